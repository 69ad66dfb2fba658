"""``provision:``: deployment metadata for the docker and helm generators."""

from __future__ import annotations

from typing import Literal

from ._common import ConfigModel

__all__ = [
    "DockerBuild",
    "DockerProvision",
    "DockerPush",
    "DockerSave",
    "Dockerfile",
    "HelmProvision",
    "ProvisionConfig",
    "RegistryConfig",
]


class Dockerfile(ConfigModel):
    """Where the Dockerfile is; both default at generation time (``.``, ``Dockerfile``).

    Attributes:
        dir: Directory of the Dockerfile.
        file: File name of the Dockerfile.
    """

    dir: str | None = None
    file: str | None = None


class DockerSave(ConfigModel):
    """Saving the built image to a tar file.

    Attributes:
        enabled: Whether to save the image.
        file: The tar file to write.
    """

    enabled: bool = False
    file: str | None = None


class RegistryConfig(ConfigModel):
    """A container registry to push to.

    Attributes:
        url: Registry URL including the repository.
        username: Login user; empty means no login.
        password: Login password (literal or ``$ENV_VAR``).
    """

    url: str
    username: str = ""
    password: str = ""


class DockerPush(ConfigModel):
    """Pushing the built image.

    Attributes:
        enabled: Whether to push.
        registry: Where to push.
    """

    enabled: bool = False
    registry: RegistryConfig | None = None


class DockerBuild(ConfigModel):
    """How to build the image.

    Attributes:
        context: Build context directory.
        engine: ``podman`` or ``docker``.
        arch: ``arm64`` or ``amd64``.
        save: Optional save-to-tar step.
        push: Optional push step.
    """

    context: str
    engine: Literal["podman", "docker"]
    arch: Literal["arm64", "amd64"]
    save: DockerSave | None = None
    push: DockerPush | None = None


class DockerProvision(ConfigModel):
    """The federation's container image.

    Attributes:
        image: Image name.
        tag: Image tag.
        dockerfile: Where the Dockerfile is.
        build: How to build it.
    """

    image: str
    tag: str
    dockerfile: Dockerfile | None = None
    build: DockerBuild | None = None


class HelmProvision(ConfigModel):
    """The federation's helm chart.

    Attributes:
        path: Chart directory.
        name: Chart name.
        chartVersion: Chart version; defaults to the DFM version when generating.
        appVersion: App version; defaults to the DFM version when generating.
        startup_package_source: ``env`` (paths from ``DFM_WORKSPACE_<SITE>_INIT_PATH``)
            or ``workspace``.
    """

    path: str
    name: str
    chartVersion: str | None = None  # noqa: N815 - the YAML spelling
    appVersion: str | None = None  # noqa: N815 - the YAML spelling
    startup_package_source: Literal["env", "workspace"]


class ProvisionConfig(ConfigModel):
    """``provision:``; ``provision: {}`` is valid.

    Attributes:
        docker: Image build settings.
        helm: Chart settings.
        server: The site that is the NVIDIA FLARE server (default: the site named
            ``server``, if any; otherwise the server only relays).
    """

    docker: DockerProvision | None = None
    helm: HelmProvision | None = None
    server: str | None = None
