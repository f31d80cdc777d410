"""Kubernetes name syntax, plain names, bounded numbers: annotated types of the schema.

The syntax checks follow apimachinery's ``k8s.io/apimachinery/pkg/util/validation/
validation.go`` (functions ``IsQualifiedName``, ``IsValidLabelValue``,
``IsDNS1123Subdomain``, ``IsDNS1123Label``), as the API server applies them:

- a label key, taint key, toleration key, topology key or node selector key is a
  *qualified name*: an optional DNS-1123 subdomain prefix and ``/``, then a name of at
  most 63 characters of ``[A-Za-z0-9_.-]`` starting and ending alphanumeric
  (``ValidateLabelName`` calls ``IsQualifiedName``);
- a label value is empty or such a name (``IsValidLabelValue``);
- a node, pod, PriorityClass or scheduler name is a DNS-1123 subdomain: at most 253
  characters, lowercase alphanumeric, ``-`` and ``.``, starting and ending alphanumeric
  (``IsDNS1123Subdomain``; ``ValidatePodSpec`` checks ``schedulerName`` this way);
- a container name is a DNS-1123 label (at most 63 characters, no dots; ``IsDNS1123Label``).

k8sim's own names that become directory names (a scenario's or experiment's ``name``)
are *plain*: no path separator, not ``.`` or ``..``, no control character.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, Field, ValidationInfo

from k8sim.constants import HIGHEST_USER_PRIORITY, MAX_TIME_S, MIN_PRIORITY

MAX_INT32 = 2**31 - 1

__all__ = [
    "ContainerName",
    "DnsSubdomain",
    "LabelKey",
    "LabelValue",
    "Labels",
    "PlainName",
    "PodName",
    "Priority",
    "Seconds",
    "check_dns1123_label",
    "check_dns1123_subdomain",
    "check_label_value",
    "check_plain_name",
    "check_pod_name",
    "check_user_priority",
    "check_qualified_name",
]

_QNAME = re.compile(r"(?:[A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]")
_DNS_LABEL = re.compile(r"[a-z0-9](?:[-a-z0-9]*[a-z0-9])?")
_DNS_SUBDOMAIN = re.compile(r"[a-z0-9](?:[-a-z0-9]*[a-z0-9])?(?:\.[a-z0-9](?:[-a-z0-9]*[a-z0-9])?)*")
_QNAME_MAX = 63
_DNS_LABEL_MAX = 63
_DNS_SUBDOMAIN_MAX = 253
_SHOWN = 80  # characters of a bad value quoted in a message


def _show(value: str) -> str:
    return repr(value if len(value) <= _SHOWN else value[:_SHOWN] + "...")


def check_dns1123_subdomain(value: str) -> str:
    """``IsDNS1123Subdomain``: lowercase RFC 1123 subdomain, at most 253 characters."""
    if len(value) > _DNS_SUBDOMAIN_MAX:
        raise ValueError(f"must be no more than {_DNS_SUBDOMAIN_MAX} characters, got {len(value)}")
    if not _DNS_SUBDOMAIN.fullmatch(value):
        raise ValueError(
            f"{_show(value)} is not a valid name: a lowercase RFC 1123 subdomain must consist of lowercase "
            "alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character "
            "(e.g. 'example.com')"
        )
    return value


def check_dns1123_label(value: str) -> str:
    """``IsDNS1123Label``: lowercase RFC 1123 label, at most 63 characters."""
    if len(value) > _DNS_LABEL_MAX:
        raise ValueError(f"must be no more than {_DNS_LABEL_MAX} characters, got {len(value)}")
    if not _DNS_LABEL.fullmatch(value):
        raise ValueError(
            f"{_show(value)} is not a valid name: a lowercase RFC 1123 label must consist of lowercase "
            "alphanumeric characters or '-', and must start and end with an alphanumeric character "
            "(e.g. 'my-name')"
        )
    return value


def _check_qname_part(value: str, what: str) -> None:
    if not value:
        raise ValueError(f"{what} must not be empty")
    if len(value) > _QNAME_MAX:
        raise ValueError(f"{what} must be no more than {_QNAME_MAX} characters, got {len(value)}")
    if not _QNAME.fullmatch(value):
        raise ValueError(
            f"{what} {_show(value)} must consist of alphanumeric characters, '-', '_' or '.', and must start "
            "and end with an alphanumeric character (e.g. 'MyName', 'my.name' or '123-abc')"
        )


def check_qualified_name(value: str) -> str:
    """``IsQualifiedName``: ``[prefix/]name`` (label keys, taint keys, topology keys)."""
    parts = value.split("/")
    if len(parts) > 2:
        raise ValueError(f"key {_show(value)}: a qualified name has at most one '/' (prefix/name)")
    if len(parts) == 2:
        prefix = parts[0]
        if not prefix:
            raise ValueError(f"key {_show(value)}: the prefix part before '/' must not be empty")
        try:
            check_dns1123_subdomain(prefix)
        except ValueError as e:
            raise ValueError(f"key {_show(value)}: prefix part: {e}") from None
    _check_qname_part(parts[-1], f"key {_show(value)}: name part" if len(parts) == 2 else "key")
    return value


def check_label_value(value: str) -> str:
    """``IsValidLabelValue``: empty, or at most 63 characters as a qualified name's name."""
    if value:
        _check_qname_part(value, "label value")
    return value


def check_plain_name(value: str) -> str:
    """A name used as a file or directory name: no path separator, not ``.``/``..``."""
    if not value:
        raise ValueError("must not be empty")
    if "/" in value or "\\" in value:
        raise ValueError(f"{_show(value)}: a name must not contain a path separator ('/' or '\\')")
    if value in (".", ".."):
        raise ValueError(f"{value!r} is not a name")
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise ValueError(f"{_show(value)}: a name must not contain control characters")
    if len(value) > 200:
        raise ValueError(f"a name must be no more than 200 characters, got {len(value)}")
    return value


def check_pod_name(value: str) -> str:
    """A pod name, optionally ``namespace/name`` (snapshots of several namespaces): the
    namespace a DNS-1123 label, the name a DNS-1123 subdomain."""
    namespace, sep, name = value.rpartition("/")
    if sep:
        check_dns1123_label(namespace)
    check_dns1123_subdomain(name)
    return value


#: A pod name, ``[namespace/]name``.
PodName = Annotated[str, AfterValidator(check_pod_name)]
#: A label key (qualified name).
LabelKey = Annotated[str, AfterValidator(check_qualified_name)]
#: A label value.
LabelValue = Annotated[str, AfterValidator(check_label_value)]
#: A label set (node labels, pod labels, nodeSelector, matchLabels).
Labels = dict[LabelKey, LabelValue]
#: A node, pod, PriorityClass or scheduler name.
DnsSubdomain = Annotated[str, AfterValidator(check_dns1123_subdomain)]
#: A container name.
ContainerName = Annotated[str, AfterValidator(check_dns1123_label)]
#: A scenario's or experiment's name (becomes a directory name).
PlainName = Annotated[str, AfterValidator(check_plain_name)]
def check_user_priority(value: int, info: ValidationInfo) -> int:
    """At most ``HighestUserDefinablePriority`` (1e9) unless the validation context says
    the values come from a real cluster (``system_priorities``: a snapshot's system pods
    carry system-node-critical's 2000001000)."""
    system = isinstance(info.context, dict) and info.context.get("system_priorities")
    if not MIN_PRIORITY <= value <= MAX_INT32:
        raise ValueError(f"a priority is a 32-bit signed integer (int32 spec.priority), got {value}")
    if value > HIGHEST_USER_PRIORITY and not system:
        raise ValueError(
            f"maximum allowed value of a user defined priority is {HIGHEST_USER_PRIORITY} (got {value}); "
            "larger values are reserved for the system priority classes"
        )
    return value


#: A pod priority: int32 (``spec.priority``), and as a user sets it at most 1e9: upstream
#: ``ValidatePriorityClass`` (pkg/apis/scheduling/validation/validation.go) forbids user
#: values above ``HighestUserDefinablePriority``; larger ones are the system classes'.
Priority = Annotated[int, AfterValidator(check_user_priority)]
#: A point in virtual time or a duration, in seconds: 0 <= t <= MAX_TIME_S.
Seconds = Annotated[float, Field(ge=0, le=MAX_TIME_S)]
