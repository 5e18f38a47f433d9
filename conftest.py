pytest_plugins = ["fuelhub_common.testing"]
