"""Stand-in for ansible-test's downloaded get-pip script (see tools/bootstrap.sh).

ansible-test runs it inside a fresh virtualenv with pip's install arguments. It bootstraps pip from
the interpreter's own ensurepip, then installs the requested packages from the configured index.
"""

import ensurepip
import os
import subprocess
import sys

GET_PIP_ONLY_FLAGS = {"--no-setuptools", "--no-wheel"}


def main():
    ensurepip.bootstrap(upgrade=True)
    args = [arg for arg in sys.argv[1:] if arg not in GET_PIP_ONLY_FLAGS]
    cert = os.environ.get("PIP_CERT", "/etc/ssl/certs/ca-certificates.crt")
    command = [sys.executable, "-m", "pip", "install", "--cert", cert, *args]
    sys.exit(subprocess.call(command))


if __name__ == "__main__":
    main()
