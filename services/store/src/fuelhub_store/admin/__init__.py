"""The admin web UI (issue 6): catalog icons and names, fuel aliases, ingestion status, audit log,
accounts through auth's API, read-only data views. Runs as its own process: ``fuelhub-store-admin``.
"""
