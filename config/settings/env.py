"""The one helper through which settings read the environment."""

from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent.parent

# FileAwareEnv: any variable can be given as a file instead (DJANGO_SECRET_KEY_FILE=/run/secrets/key),
# so keytrail's own secrets come from the environment or mounted files, never from the repository.
env = environ.FileAwareEnv()
# A local .env is convenient for development; production passes real environment variables.
_dotenv = BASE_DIR / ".env"
if _dotenv.exists():
    environ.Env.read_env(str(_dotenv))
