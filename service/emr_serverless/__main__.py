"""`python -m service.emr_serverless`: serve its Restate endpoint, as `python -m service` does."""

import sys

import uvloop

from envconfig import SettingsError
from service.emr_serverless.settings import settings
from service.serving import serve

if __name__ == "__main__":
    try:
        current = settings()  # read once here, so a bad value stops the start
    except SettingsError as error:
        sys.exit(f"error: {error}")
    from service.emr_serverless.app import app  # once the settings are known to be good

    uvloop.run(serve(app, str(current.bind_host), current.port, current.http_server))
