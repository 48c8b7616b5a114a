"""AWS collection settings. keytrail stores role ARNs per source, never long-lived keys:
the base credentials come from the standard boto3 chain (instance role, env, profile)."""

from config.settings.env import env

# Standard boto3 setting; points every client at moto's server in the demo and tests.
AWS_ENDPOINT_URL = env.str("AWS_ENDPOINT_URL", default="")
AWS_CONNECT_TIMEOUT = env.float("AWS_CONNECT_TIMEOUT", default=5.0)
AWS_READ_TIMEOUT = env.float("AWS_READ_TIMEOUT", default=30.0)
AWS_MAX_ATTEMPTS = env.int("AWS_MAX_ATTEMPTS", default=6)
AWS_RETRY_MODE = env.str("AWS_RETRY_MODE", default="adaptive")
AWS_ASSUME_ROLE_SESSION_NAME = "keytrail-collector"
AWS_CREDENTIAL_REPORT_POLL_INTERVAL = env.float("AWS_CREDENTIAL_REPORT_POLL_INTERVAL", default=2.0)
AWS_CREDENTIAL_REPORT_MAX_WAIT = env.float("AWS_CREDENTIAL_REPORT_MAX_WAIT", default=120.0)
# Per-user IAM calls (ListAccessKeys, only where the credential report changed) run this many at a time.
AWS_IAM_PER_USER_CONCURRENCY = env.int("AWS_IAM_PER_USER_CONCURRENCY", default=4)
# IAM users' SSH keys and service-specific credentials need one call per user each (no
# account-wide listing, no change signal): a repeat collection reuses a listing younger than
# this many hours (its as-of is recorded on every record: listed_at). 0: list every run.
AWS_IAM_USER_CREDENTIALS_REFRESH_HOURS = env.float("AWS_IAM_USER_CREDENTIALS_REFRESH_HOURS", default=24.0)
# A secret's resource policy read less than this long ago is reused from the unit's state while the
# secret's LastChangedDate is unchanged (0: read every policy at every collection). docs/connectors.md
AWS_SM_RESOURCE_POLICY_REFRESH_HOURS = env.float("AWS_SM_RESOURCE_POLICY_REFRESH_HOURS", default=24.0)
# Which plaintext SSM parameter names look like secrets (a case-insensitive regular
# expression); empty: apps.connectors.aws.ssm.SECRET_NAME_PATTERN.
AWS_SSM_SECRET_NAME_PATTERN = env.str("AWS_SSM_SECRET_NAME_PATTERN", default="")
# Regions where sso-admin ListInstances looks for IAM Identity Center (the organisation's
# Identity Center home region); empty: the collection session's region.
AWS_IDENTITY_CENTER_REGIONS = env.list("AWS_IDENTITY_CENTER_REGIONS", default=[])
