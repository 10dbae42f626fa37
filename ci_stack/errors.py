"""The one exception hierarchy. The CLI catches CiStackError once and prints `message` on one line."""

from __future__ import annotations

EXIT_FAILED = 1  # an operation against a service or the engine failed
EXIT_BAD_INPUT = 2  # bad input or environment; nothing was changed


class CiStackError(Exception):
    exit_code = EXIT_FAILED

    @property
    def message(self) -> str:
        return str(self)


class BadInput(CiStackError):
    """Bad configuration, flag or environment, found before anything is changed."""

    exit_code = EXIT_BAD_INPUT


class ConfigError(BadInput):
    pass


class EngineUnavailable(BadInput):
    pass


class PortInUse(BadInput):
    def __init__(self, service: str, bind: str, port: int):
        super().__init__(f"port {port} for {service} is already in use on {bind} (set [ports] {service} or CI_STACK_PORTS_{service.upper()})")


class StateDirError(BadInput):
    pass


class OperationFailed(CiStackError):
    """Something went wrong while changing the stack."""


class ServiceError(OperationFailed):
    """A service answered a call with something we cannot work with."""

    def __init__(self, service: str, call: str, detail: str):
        self.service, self.call, self.detail = service, call, detail
        super().__init__(f"{service}: {call} failed: {detail}")


class ServiceUnreachable(ServiceError):
    pass


class StackNotRunning(OperationFailed):
    pass
