"""The event log: append-only ``(time, kind, pod, node, detail)`` rows.

Only the Cluster API (:mod:`k8sim.cluster.api`) appends rows, in the same call that
changes the tables and publishes the watch event, so the log is in the order things
happened. Nothing is ever rewritten. Kinds (upstream Event reasons where one exists):
PodCreated, Scheduled, FailedScheduling, Preempting, Started, Killing, Completed,
Failed, Preempted, Dropped, NodeAdded, NodeUpdated, NodeRemoved, and the kubelet's
reports (ErrImagePull, ErrImageNeverPull, BackOff, ContainerTerminated, ImageGC).

A run of a million pods logs about four million rows, so the columns are typed arrays
(:class:`array.array`: appends as cheap as a list's, 8 bytes per time and 4 per pod,
node or detail, 2 per kind) rather than lists of Python objects; kinds and details are
interned (a code per distinct string; most rows have no detail, code 0).
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Iterator, Sequence
from typing import overload

import numpy as np
import pandas as pd
import pyarrow as pa


class Decoded(Sequence[str]):
    """A read-only view of an interned string column: ``view[i]`` is row ``i``'s string.

    It follows the log as it grows. ``s in view`` looks the string's code up, then
    scans the codes (no string is built)."""

    __slots__ = ("_codes", "_strings", "_index")

    def __init__(self, codes: array, strings: list[str], index: dict[str, int]):
        self._codes = codes
        self._strings = strings
        self._index = index

    def __len__(self) -> int:
        return len(self._codes)

    @overload
    def __getitem__(self, i: int) -> str: ...

    @overload
    def __getitem__(self, i: slice) -> list[str]: ...

    def __getitem__(self, i: int | slice) -> str | list[str]:
        if isinstance(i, slice):
            strings = self._strings
            return [strings[c] for c in self._codes[i]]
        return self._strings[self._codes[i]]

    def __iter__(self) -> Iterator[str]:
        strings = self._strings
        return (strings[c] for c in self._codes)

    def __contains__(self, value: object) -> bool:
        code = self._index.get(value) if isinstance(value, str) else None
        return code is not None and code in self._codes

    def codes(self) -> np.ndarray:
        """A copy of the codes (``int32``): ``strings()[codes()[i]]`` is row ``i``."""
        return np.array(self._codes, dtype=np.int32)

    def strings(self) -> list[str]:
        """The vocabulary: code -> string (a copy)."""
        return list(self._strings)


class EventLog:
    """The log's columns as typed arrays; ``frame`` turns them into the ``events``
    DataFrame of a result.

    ``time`` (``array('d')``), ``pod`` and ``node`` (``array('i')``, -1 when the row has
    none) index and iterate like the lists they replace, giving Python floats and ints;
    ``kind`` and ``detail`` are :class:`Decoded` views giving strings. Do not keep a
    numpy view of an array (``np.frombuffer``) while the run goes on: an array whose
    buffer is exported cannot grow. ``np.array(log.time)`` copies.
    """

    def __init__(self) -> None:
        self._time = array("d")
        self._kind = array("h")
        self._pod = array("i")
        self._node = array("i")
        self._detail = array("i")
        self._kinds: list[str] = []
        self._kind_code: dict[str, int] = {}
        self._details: list[str] = [""]
        self._detail_code: dict[str, int] = {"": 0}
        self.kind = Decoded(self._kind, self._kinds, self._kind_code)
        self.detail = Decoded(self._detail, self._details, self._detail_code)

    @property
    def time(self) -> array:
        """Virtual time of each row (read only)."""
        return self._time

    @property
    def pod(self) -> array:
        """Pod row of each row, -1 for none (read only)."""
        return self._pod

    @property
    def node(self) -> array:
        """Node column of each row, -1 for none (read only)."""
        return self._node

    def event(self, time: float, kind: str, pod: int, node: int, detail: str = "") -> None:
        """Append one row (``pod`` / ``node`` -1 when the row has none)."""
        code = self._kind_code.get(kind)
        if code is None:
            code = self._kind_code[kind] = len(self._kinds)
            self._kinds.append(kind)
        if detail:
            d = self._detail_code.get(detail)
            if d is None:
                d = self._detail_code[detail] = len(self._details)
                self._details.append(detail)
        else:
            d = 0
        self._time.append(time)
        self._kind.append(code)
        self._pod.append(pod)
        self._node.append(node)
        self._detail.append(d)

    def kind_code(self, kind: str) -> int:
        """The code of ``kind``, interned now if it is new (as :meth:`event` does at the
        kind's first row). For a caller that appends rows itself (:meth:`appenders`)."""
        code = self._kind_code.get(kind)
        if code is None:
            code = self._kind_code[kind] = len(self._kinds)
            self._kinds.append(kind)
        return code

    def appenders(self) -> tuple[Callable[[float], None], Callable[[int], None], Callable[[int], None],
                                 Callable[[int], None], Callable[[int], None]]:
        """The ``append`` methods of the time, kind, pod, node and detail columns: a row
        is one call of each, in this order, with a code from :meth:`kind_code` and
        detail code 0 (no detail), exactly what :meth:`event` appends. For the Cluster
        API's per-pod rows (four a pod), which skip :meth:`event`'s call and lookups."""
        return (self._time.append, self._kind.append, self._pod.append, self._node.append, self._detail.append)

    def __len__(self) -> int:
        return len(self._time)

    def frame(self, pod_names: Sequence[str] | pa.Array, node_names: Sequence[str] | pa.Array) -> pd.DataFrame:
        """The log as a DataFrame with pod and node names resolved (kinds categorical,
        their categories sorted; names and details as strings, "" where none). The
        names may be given as Arrow string arrays.

        Built one column at a time from the typed arrays: each string column is taken
        from its vocabulary by code (:func:`strings_by_code`), never through an array
        of Python objects per row, and the frame adopts the new columns without copying
        them (four million rows took several hundred MB of temporaries otherwise)."""
        # Categories in sorted order, as inferring them from the strings gives.
        order = sorted(range(len(self._kinds)), key=self._kinds.__getitem__)
        rank = np.empty(len(order), dtype=np.int16)
        rank[order] = np.arange(len(order), dtype=np.int16)
        kinds = pd.Categorical.from_codes(rank[np.array(self._kind, dtype=np.int16)] if len(order) else
                                          np.zeros(0, dtype=np.int16),
                                          categories=pd.Index([self._kinds[i] for i in order]))
        columns = {
            "time": pd.Series(np.array(self._time, dtype=np.float64), dtype="float64"),
            "kind": pd.Series(kinds),
        }
        columns["pod"] = strings_by_code(pod_names, self._pod)
        columns["node"] = strings_by_code(node_names, self._node)
        columns["detail"] = strings_by_code(self._details, self._detail)
        return pd.DataFrame(columns, copy=False)


def strings_by_code(vocabulary: Sequence[str] | pa.Array, codes: array | np.ndarray) -> pd.Series:
    """A ``string`` Series whose row ``i`` is ``vocabulary[codes[i]]`` ("" where the code
    is -1): the strings are taken by Arrow from the vocabulary (one conversion of the
    vocabulary, then a gather of its bytes), so no Python object per row is made. The
    same values and dtype as ``pd.Series([...], dtype="string")`` of the strings."""
    if not isinstance(vocabulary, pa.Array):
        vocabulary = pa.array(vocabulary if isinstance(vocabulary, list) else list(vocabulary), type=pa.large_string())
    voc = vocabulary
    idx = np.array(codes, dtype=np.int32)  # a copy: the log's arrays stay appendable
    none = idx < 0
    if none.any():
        voc = pa.concat_arrays([voc.cast(pa.large_string()), pa.array([""], type=pa.large_string())])
        idx[none] = len(voc) - 1
    del none
    taken = voc.take(pa.array(idx, type=pa.int32()))
    del idx
    return pd.Series(pd.array(taken, dtype="string"))
