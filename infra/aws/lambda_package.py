"""The service's Lambda code, built without Docker: wheels for the Lambda platform, by pip.

`pip install --platform ... --only-binary=:all:` fetches the wheels of `lambda-requirements.txt`
built for Lambda's Python and architecture (never this machine's), and the service's own
packages are copied next to them. Only what the service imports goes in.

Bundling downloads from PyPI, so it runs only when CDK bundles the stack (`cdk deploy`, or
`cdk synth` without `-c lambdaBundling=skip`). Template tests and offline synth skip it: the
function then points at the unbundled sources, which is fine for a template and never deployed.
"""

import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

import jsii
from aws_cdk import AssetHashType, BundlingOptions, DockerImage, ILocalBundling
from aws_cdk import aws_lambda as lambda_

ROOT = Path(__file__).resolve().parents[2]
REQUIREMENTS = Path(__file__).with_name("lambda-requirements.txt")
# The repository's packages the service imports (service -> webhooks, envconfig).
PACKAGES = ("service", "webhooks", "envconfig")
PYTHON_VERSION = "3.13"
RUNTIME = lambda_.Runtime.PYTHON_3_13
ARCHITECTURE = lambda_.Architecture.ARM_64
# restate-sdk publishes manylinux_2_28 wheels for aarch64; Lambda's Python 3.13 runs on
# Amazon Linux 2023 (glibc 2.34), which takes both tags.
PLATFORMS = ("manylinux_2_28_aarch64", "manylinux2014_aarch64")
HANDLER = "service.app.app"  # the SDK builds its Lambda handler when it runs on Lambda


class BundlingError(RuntimeError):
    """pip could not fetch the wheels; the message says what to do."""


def pip_command(target: Path) -> list[str]:
    platforms = [arg for platform in PLATFORMS for arg in ("--platform", platform)]
    return [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--no-compile",
        "--only-binary=:all:",
        "--implementation",
        "cp",
        "--python-version",
        PYTHON_VERSION,
        *platforms,
        "--target",
        str(target),
        "--requirement",
        str(REQUIREMENTS),
    ]


def copy_sources(target: Path) -> None:
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "__main__.py")
    for package in PACKAGES:
        shutil.copytree(ROOT / package, target / package, ignore=ignore, dirs_exist_ok=True)


def source_hash() -> str:
    """Changes when the code or the requirements do: CDK then uploads a new asset."""
    digest = hashlib.sha256(REQUIREMENTS.read_bytes())
    digest.update(f"{PYTHON_VERSION} {PLATFORMS}".encode())
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "__pycache__" not in path.parts:
                digest.update(str(path.relative_to(ROOT)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


@jsii.implements(ILocalBundling)
class PipBundling:
    """CDK's local bundling hook: fills `output_dir` with the package, no Docker."""

    def try_bundle(self, output_dir: str, *, image: object = None, **_: object) -> bool:
        target = Path(output_dir)
        result = subprocess.run(pip_command(target), capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise BundlingError(
                "pip could not fetch the Lambda wheels (it needs PyPI): "
                f"{result.stderr.strip()[-800:]}\nTo synthesize offline, pass "
                "-c lambdaBundling=skip (the template is the same; do not deploy it)."
            )
        copy_sources(target)
        return True


def service_code(bundle: bool) -> lambda_.Code:
    """The function's code: bundled by pip, or (bundle=False) the sources alone."""
    options = BundlingOptions(
        # Never pulled: local bundling always succeeds or raises.
        image=DockerImage.from_registry("local-bundling-only"),
        local=PipBundling(),
    )
    return lambda_.Code.from_asset(
        str(ROOT / "service"),
        asset_hash=source_hash(),
        asset_hash_type=AssetHashType.CUSTOM,
        bundling=options if bundle else None,
    )
