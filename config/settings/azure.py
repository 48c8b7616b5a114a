"""Azure Key Vault collection settings. Credentials come from DefaultAzureCredential."""

from config.settings.env import env

# Dotted path of the credential class; the demo and tests use the local simulator's.
AZURE_CREDENTIAL_CLASS = env.str("AZURE_CREDENTIAL_CLASS", default="azure.identity.DefaultAzureCredential")
# Keep True in production: the SDK checks the challenge's resource matches the vault's domain.
AZURE_VERIFY_CHALLENGE_RESOURCE = env.bool("AZURE_VERIFY_CHALLENGE_RESOURCE", default=True)
# A CA bundle path to trust (the simulator's self-signed certificate), or "" for the system store.
AZURE_CONNECTION_VERIFY = env.str("AZURE_CONNECTION_VERIFY", default="")
AZURE_CONNECTION_TIMEOUT = env.int("AZURE_CONNECTION_TIMEOUT", default=5)
AZURE_READ_TIMEOUT = env.int("AZURE_READ_TIMEOUT", default=30)
AZURE_RETRY_TOTAL = env.int("AZURE_RETRY_TOTAL", default=6)
AZURE_RETRY_BACKOFF_FACTOR = env.float("AZURE_RETRY_BACKOFF_FACTOR", default=0.8)
AZURE_RETRY_BACKOFF_MAX = env.float("AZURE_RETRY_BACKOFF_MAX", default=60.0)
# azure-core honours Retry-After without an upper bound; a hostile or broken server could stall a worker.
AZURE_RETRY_AFTER_MAX = env.float("AZURE_RETRY_AFTER_MAX", default=60.0)
# Threads listing secret versions in one vault (a first collection makes one call per secret).
AZURE_KEY_VAULT_VERSION_CONCURRENCY = env.int("AZURE_KEY_VAULT_VERSION_CONCURRENCY", default=4)
# Azure Resource Manager, for subscription sources (vault discovery and vault-level facts). Another
# cloud (e.g. https://management.usgovcloudapi.net) or the local simulator in tests and the demo.
AZURE_RESOURCE_MANAGER_URL = env.str("AZURE_RESOURCE_MANAGER_URL", default="https://management.azure.com")
# The token scope asked of the credential for Resource Manager.
AZURE_RESOURCE_MANAGER_SCOPE = env.str("AZURE_RESOURCE_MANAGER_SCOPE", default="https://management.azure.com/.default")
