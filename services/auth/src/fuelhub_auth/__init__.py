"""Issues tokens: seed-compatible login/refresh, OAuth 2.0 client credentials, JWKS."""
