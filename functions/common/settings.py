"""Pattern settings: environment variables with defaults, set by CDK on AWS and by the local stack.

A pattern (or HTTP API) with settings declares them once, as a :class:`PatternSettings` model in
``functions/<pattern>/settings.py``: each field is one variable (its alias), with its default and
its constraints. The catalog lists the variables and their defaults from that model, so the CDK app
and the local stack set exactly what the pattern reads, and the pattern reads them with
:meth:`PatternSettings.from_environment` at module level, i.e. once per cold start. A malformed value
fails that import naming the variable, so a typo shows up as a clear cold-start error instead of odd
behaviour in the middle of an invocation.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from datetime import timedelta
from typing import Annotated, Any, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
)
from pydantic_core import to_jsonable_python

from functions.common.problems import Location, describe_problems
from functions.common.problems import problem_of as problem_of  # stacks/config.py words its context errors with it
from functions.common.secrets import SecretUnavailable, read_secret


def _seconds_from_text(value: Any) -> Any:
    # pydantic reads a timedelta from a number of seconds, but from text only in ISO 8601 ("PT5S").
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            raise ValueError("expected a number of seconds") from None
    return value


def _not_negative(duration: timedelta) -> timedelta:
    if duration < timedelta(0):
        raise ValueError("must not be negative")
    return duration


def _names_from_text(value: Any) -> Any:
    if isinstance(value, str):
        return [name.strip() for name in value.split(",") if name.strip()]
    return value


Seconds = Annotated[timedelta, BeforeValidator(_seconds_from_text), AfterValidator(_not_negative)]
"""A duration, given in seconds (``0.25``), not negative."""
Probability = Annotated[float, Field(ge=0, le=1)]
Names = Annotated[frozenset[str], BeforeValidator(_names_from_text)]
"""Names given comma-separated (``a,b``); empty: none."""


def environment_value(value: Any) -> str:
    """A setting's value written as its variable carries it: the inverse of what the model reads."""
    # Not a PlainSerializer on Seconds and Names: pydantic's functional_serializers module would cost
    # every cold start about 1.6 ms for a formatting only the CDK app and `make docs` use.
    if isinstance(value, timedelta):
        return f"{value.total_seconds():g}"
    if isinstance(value, frozenset):
        return ",".join(sorted(value))
    plain = to_jsonable_python(value)
    return plain if isinstance(plain, str) else json.dumps(plain)


def describe_setting_errors(error: ValidationError, given: Mapping[str, str]) -> str:
    """One problem per bad variable, each naming it and the value it had."""

    def variable_and_value(location: Location) -> str:
        # A check across variables (no location) names them in its own message.
        if not location:
            return ""
        variable = str(location[0])
        return f"{variable}={given.get(variable)!r} is not a valid setting"

    return describe_problems(error.errors(include_url=False), variable_and_value)


class PatternSettings(BaseModel):
    """The settings of one pattern (or HTTP API): each field an environment variable, named by the field's alias."""

    model_config = ConfigDict(
        frozen=True,
        validate_default=True,
        validate_by_alias=True,
        validate_by_name=False,
        # Not use_attribute_docstrings: it parses the module's source at every cold start (about 5 ms
        # here) for descriptions only `make docs` reads; local/reference_docs.py reads them itself.
    )

    @classmethod
    def variables(cls) -> tuple[str, ...]:
        return tuple(field.alias or name for name, field in cls.model_fields.items())

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> Self:
        """The settings ``environ`` (the process's environment) gives; unset or empty variables take their defaults.

        Raises :class:`ValueError` naming every malformed variable.
        """
        source = os.environ if environ is None else environ
        given = {variable: source[variable] for variable in cls.variables() if source.get(variable)}
        try:
            return cls.model_validate(given)
        except ValidationError as error:
            raise ValueError(describe_setting_errors(error, given)) from None

    @classmethod
    def current(cls) -> Self:
        """This process's settings, read from its environment once: a function's modules share one reading."""
        if cls not in _READ_ONCE:
            _READ_ONCE[cls] = cls.from_environment()
        settings = _READ_ONCE[cls]
        assert isinstance(settings, cls)
        return settings

    @classmethod
    def environment_defaults(cls) -> dict[str, str]:
        """Every variable with its default, written as the environment carries it."""
        defaults = cls.model_validate({}).model_dump(by_alias=True)
        return {name: environment_value(value) for name, value in defaults.items()}


def secret_arn_variable(name: str) -> str:
    """The variable naming the Secrets Manager secret (ARN or name) that holds secret setting ``name``.

    ``<NAME>_SECRET_ARN``, without doubling a trailing ``_SECRET``: ``STRIPE_WEBHOOK_SECRET`` is read
    from ``STRIPE_WEBHOOK_SECRET_ARN`` (as ``RESTATE_INGRESS_KEY`` from ``RESTATE_INGRESS_KEY_SECRET_ARN``).
    """
    return name.removesuffix("_SECRET") + "_SECRET_ARN"


def secret_setting(name: str) -> str:
    """A secret (a catalog ``secret_settings`` entry): ``<name>`` if set, else the secret ``<name>_SECRET_ARN`` names.

    On AWS the CDK app sets only ``<name>_SECRET_ARN``, so the value never shows in the function's
    configuration; locally and in tests ``<name>`` carries the value itself. Neither set: ``""``.
    (The variable is :func:`secret_arn_variable`'s: a trailing ``_SECRET`` of ``name`` is not doubled.)
    Call it at module level, so that Secrets Manager is asked once per cold start (Lambda's init
    phase), never per invocation; a rotated secret reaches new execution environments only.
    """
    value = os.environ.get(name)
    if value:
        return value
    variable = secret_arn_variable(name)
    secret_id = os.environ.get(variable)
    if not secret_id:
        return ""
    try:
        return read_secret(secret_id)
    except SecretUnavailable as problem:
        raise RuntimeError(f"{variable}: {problem}") from None


_READ_ONCE: dict[type[PatternSettings], PatternSettings] = {}
"""The settings of each model as :meth:`PatternSettings.current` read them, once per process."""
