"""What the resource steps share: the configured resource they act on."""

from __future__ import annotations

from carpswitch.engine.step import Step
from carpswitch.topology import Resource


class ResourceStep(Step):
    """A step about one configured resource."""

    def __init__(self, resource: Resource) -> None:
        super().__init__(resource.name)
        self.target = resource

    @property
    def mountpoint(self) -> str:
        assert self.target.mountpoint is not None
        return self.target.mountpoint

    @property
    def pool(self) -> str:
        assert self.target.pool is not None
        return self.target.pool
