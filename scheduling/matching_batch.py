"""Batch assignment: many referrals at once, as one exact minimum-cost flow; and the greedy
least-recently-booked assignment that round-robin booking tools make, to compare with.

Pure, like scheduling.matching, whose constraints and costs it applies unchanged. No two
referrals get the same time, no clinician week goes over capacity, and the total cost (the soft
costs of all proposals plus MATCH_UNMATCHED_PENALTY for each referral left without one) is the
minimum over every possible assignment.

The flow network stays sparse by aggregating referrals and times instead of linking each
referral to each time:
- a class is the referrals that every constraint and cost treats alike (all but their id and
  order): one source whose supply is their number; its times go to its members oldest first;
- a block is the times of one clinician that every referral treats alike: the same window key in
  every referrer time zone present, the same side of each notice cut, the same side of the
  continuity cut (only for an earlier clinician of some episode);
- the blocks that a kind of referral may use (one program, session type, time zone, window key,
  notice and priority) form a list sorted by clinician district, over which sits a segment tree;
- a class links to the few tree nodes that together cover its list minus the clinicians it
  must not see, split where its preference or continuity cost changes, each arc carrying that
  cost. Its own district's clinicians are adjacent in the list, so this is a handful of arcs
  rather than one per clinician. A tree node that no class links to is left out (its nearest
  linked ancestor links to what lies below it), which halves the nodes the solver prices;
- classes that leave out the same clinicians (compared by who is left out, not by which
  districts and facilities are named) and filter on the same preferences share a cover; when
  several do, the cover is a node of its own that each links to once, and that node links to
  the cover's tree nodes (a quarter fewer arcs at service scale);
- block → clinician-week arcs, one per time, carry its waiting and fairness cost (the priority
  factor makes one block per priority tier); clinician-week → sink (the week's spare capacity);
  class → sink carries the unmatched penalty.
Every path from a referral to a time costs exactly `scheduling.matching.slot_cost`, so the flow
optimum is the assignment optimum. LEMON's network simplex (C++, through pylmcf) solves it; the
flow is then followed down the trees to give each referral its time.
"""

import bisect
import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import pylmcf

from config.collector import collector_paused
from referrals.windows import WINDOW_KEYS

from .matching import (
    CONTENDED_REASON,
    EMPTIED_POOL_REASONS,
    POINTS_PER_HOUR,
    ClinicianProfile,
    Need,
    NoProposal,
    Proposal,
    SlotTable,
    Weights,
    booked_counts,
    emptied_by,
    epoch,
    fairness_load,
    fairness_points,
    offers_modality,
    preference_points,
    slot_cost,
    unmatched_points,
    wait_factor,
    wait_points,
    week_start_on,
    window_key_index,
    windows_mask,
)

ANY_KEY = -1


@dataclass(frozen=True)
class BatchResult:
    proposals: tuple[Proposal, ...]
    unmatched: tuple[NoProposal, ...]
    total_cost: int


def total_cost(proposals: Sequence[Proposal], unmatched: Sequence[Need], weights: Weights) -> int:
    """The batch objective: proposal costs plus the penalty for each referral left over."""
    matched = sum(p.cost.total for p in proposals)
    return matched + sum(unmatched_points(n, weights) for n in unmatched)


class _Arcs:
    """Arcs collected as numpy chunks, handed to the solver in one call."""

    def __init__(self) -> None:
        self.chunks: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []
        self.count = 0

    def add(self, tails, heads, capacities, costs) -> int:
        tails = np.asarray(tails, np.int64)
        size = len(tails)
        self.chunks.append(
            (
                tails,
                np.broadcast_to(np.asarray(heads, np.int64), (size,)),
                np.broadcast_to(np.asarray(capacities, np.int64), (size,)),
                np.broadcast_to(np.asarray(costs, np.int64), (size,)),
            )
        )
        self.count += size
        return self.count - size

    def columns(self) -> tuple[np.ndarray, ...]:
        columns = zip(*self.chunks, strict=True)
        return tuple(np.ascontiguousarray(np.concatenate(column)) for column in columns)


def _tree_covers(size: int, allowed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each row of `allowed` (rows × `size` leaves of a bottom-up segment tree), the
    fewest nodes that together hold exactly its allowed leaves: each run of allowed leaves is
    covered as a range query would, all rows and runs at once. Returns (row, heap index)."""
    padded = np.zeros((len(allowed), size + 2), np.int8)
    padded[:, 1:-1] = allowed
    edges = np.diff(padded, axis=1)
    rows, starts = np.nonzero(edges == 1)
    _rows, stops = np.nonzero(edges == -1)  # row-major: the n-th stop ends the n-th run
    start, stop = starts + size, stops + size
    found_rows, found = [], []
    while len(start):
        is_open = start < stop
        rows, start, stop = rows[is_open], start[is_open], stop[is_open]
        is_left = (start & 1) == 1
        found_rows.append(rows[is_left])
        found.append(start[is_left])
        start = start + is_left
        is_right = (stop & 1) == 1
        stop = stop - is_right
        found_rows.append(rows[is_right])
        found.append(stop[is_right])
        start, stop = start >> 1, stop >> 1
    if not found:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    return np.concatenate(found_rows), np.concatenate(found)


def _expand(tails, covers, costs, cover_of_node, nodes, cover_count):
    """One arc from each use's class to each node of its cover."""
    order = np.argsort(cover_of_node, kind="stable")
    nodes = nodes[order]
    sizes = np.bincount(cover_of_node, minlength=cover_count)
    offsets = np.r_[0, np.cumsum(sizes)[:-1]]
    repeat = sizes[covers]
    within = np.arange(repeat.sum()) - np.repeat(np.cumsum(repeat) - repeat, repeat)
    heads = nodes[np.repeat(offsets[covers], repeat) + within]
    return np.repeat(tails, repeat), heads, np.repeat(costs, repeat)


_NO_FILTER = (None, None, False)


def _preference_filter(tree, gender, specialty, is_same_specialty) -> np.ndarray:
    """The tree's leaves whose clinician meets a part's preferences (all when it has none)."""
    meets = np.ones(len(tree.blocks), bool)
    if gender is not None:
        meets &= tree.gender == gender
    if specialty is not None:
        is_x = tree.specialty == specialty
        meets &= is_x if is_same_specialty else ~is_x
    return meets


class _Clinicians:
    """Clinician attributes as arrays indexed by position in id order."""

    def __init__(self, profiles: Sequence[ClinicianProfile], weights: Weights) -> None:
        self.profiles = sorted(profiles, key=lambda p: p.clinician_id)
        self.by_id = {p.clinician_id: p for p in self.profiles}
        self.ids = np.array([p.clinician_id for p in self.profiles], np.int64)
        self.index = {p.clinician_id: i for i, p in enumerate(self.profiles)}
        self.fairness = np.array([fairness_points(p, weights) for p in self.profiles], np.int64)
        self.active = np.array([p.is_active for p in self.profiles], bool)
        # Lists are sorted by district so that a referrer's own district is one gap in them.
        by_district = sorted(
            range(len(self.profiles)),
            key=lambda i: (min(self.profiles[i].district_ids, default=-1), self.ids[i]),
        )
        self.rank = np.empty(len(self.profiles), np.int64)
        self.rank[by_district] = np.arange(len(self.profiles))
        self.by_district = self._positions(lambda p: p.district_ids)
        self.by_facility = self._positions(lambda p: p.facility_ids)
        self.by_program = self._positions(lambda p: p.program_ids)
        genders = sorted({p.gender for p in self.profiles})
        specialties = sorted({_normalised(p.specialty) for p in self.profiles})
        self.gender_code = np.array([genders.index(p.gender) for p in self.profiles], np.int64)
        self.specialty_code = np.array(
            [specialties.index(_normalised(p.specialty)) for p in self.profiles], np.int64
        )
        self.gender_codes = {gender: i for i, gender in enumerate(genders)}
        self.specialty_codes = {specialty: i for i, specialty in enumerate(specialties)}
        self._modality_ok: dict[str, np.ndarray] = {}
        self._order_keys: dict[str, np.ndarray] = {}

    def _positions(self, values) -> dict[int, np.ndarray]:
        positions: dict[int, list[int]] = defaultdict(list)
        for i, profile in enumerate(self.profiles):
            for value in values(profile):
                positions[value].append(i)
        return {key: np.array(rows, np.int64) for key, rows in positions.items()}

    def eligible(self, program_id: int, modality: str) -> np.ndarray:
        """Who may be listed for a program and session type: offers both, and is active."""
        mask = np.zeros(len(self.profiles), bool)
        mask[self.by_program.get(program_id, np.zeros(0, np.int64))] = True
        if modality not in self._modality_ok:
            self._modality_ok[modality] = np.array(
                [offers_modality(p, modality) for p in self.profiles], bool
            )
        return mask & self.active & self._modality_ok[modality]

    def excluded(self, need: Need) -> np.ndarray:
        mask = np.zeros(len(self.profiles), bool)
        for district_id in need.excluded_district_ids:
            mask[self.by_district.get(district_id, [])] = True
        for facility_id in need.excluded_facility_ids:
            mask[self.by_facility.get(facility_id, [])] = True
        for clinician_id in need.excluded_clinician_ids:
            if clinician_id in self.index:
                mask[self.index[clinician_id]] = True
        return mask

    def order_key(self, family: str) -> np.ndarray:
        """Positions sorted for a tree family: by district ("d"), or by gender then district
        ("g"), so that a gender is one range. (A specialty family did not pay for its nodes:
        the few clinicians of one specialty are cheap to list one by one.)"""
        if family not in self._order_keys:
            columns = [self.rank] if family == "d" else [self.rank, self.gender_code]
            order = np.lexsort(columns)
            key = np.empty(len(order), np.int64)
            key[order] = np.arange(len(order))
            self._order_keys[family] = key
        return self._order_keys[family]


def _normalised(specialty: str) -> str:
    return specialty.strip().casefold()


@dataclass(frozen=True)
class _Part:
    """Part of a referral's options: the clinicians meeting some of its stated preferences
    (all of them when `gender` and `specialty` are None), at the cost of the unmet rest."""

    family: str
    gender: int | None
    specialty: int | None
    is_same_specialty: bool
    cost: int


def _parts(need: Need, clinicians: "_Clinicians", weights: Weights) -> list[_Part]:
    """Split a referral's preference cost into parts, one per set of preferences met, each
    costing the preferences it leaves unmet: the cheapest part containing a clinician prices
    that clinician exactly, and a part's clinicians are few ranges of one tree."""
    gender_points = round(weights.gender * POINTS_PER_HOUR)
    specialty_points = round(weights.specialty * POINTS_PER_HOUR)
    continuity = (
        round(weights.continuity * POINTS_PER_HOUR) if need.previous_clinician_id is not None else 0
    )
    has_gender = need.gender != "any"
    has_specialty = bool(need.specialty.strip()) and need.specialty_preference != "any"
    gender = clinicians.gender_codes.get(need.gender, -1) if has_gender else None
    specialty = (
        clinicians.specialty_codes.get(_normalised(need.specialty), -1) if has_specialty else None
    )
    is_same = need.specialty_preference == "same"
    parts = []
    for meets_gender in (False, True) if has_gender else (False,):
        for meets_specialty in (False, True) if has_specialty else (False,):
            cost = continuity
            cost += 0 if meets_gender or not has_gender else gender_points
            cost += 0 if meets_specialty or not has_specialty else specialty_points
            parts.append(
                _Part(
                    "g" if meets_gender else "d",
                    gender if meets_gender else None,
                    specialty if meets_specialty else None,
                    is_same,
                    cost,
                )
            )
    return parts


@dataclass
class _Slots:
    """The usable times as columns: clinician position, clinician-week, block."""

    table: SlotTable
    clinician: np.ndarray
    week: np.ndarray
    spare: np.ndarray  # per clinician-week: sessions it may still take

    def take(self, index: np.ndarray) -> "_Slots":
        return _Slots(self.table.take(index), self.clinician[index], self.week[index], self.spare)


def _usable_slots(clinicians: _Clinicians, slots: SlotTable, earliest_s: int) -> _Slots:
    """Times of known clinicians after the earliest notice, in weeks that have room."""
    known = np.isin(slots.clinician_ids, clinicians.ids) & (slots.starts_at >= earliest_s)
    table = slots.take(np.nonzero(known)[0])
    booked, capacity, week = booked_counts(clinicians.by_id, table)
    has_room = np.nonzero(booked < capacity)[0]
    table, booked, capacity, week = (
        table.take(has_room),
        booked[has_room],
        capacity[has_room],
        week[has_room],
    )
    weeks, week = np.unique(week, return_inverse=True)
    spare = np.zeros(len(weeks), np.int64)
    spare[week] = capacity - booked
    position = np.searchsorted(clinicians.ids, table.clinician_ids)
    return _Slots(table=table, clinician=position, week=week.ravel(), spare=spare)


class _Blocks:
    """Times that every referral in the batch treats alike, grouped (see the module docstring).

    Columns of `columns`: clinician position, the window key in each distinct referrer zone,
    the notice segment, and whether the time is within continuity reach of an earlier
    clinician. Only the earliest times of each block in each week that the week's spare
    capacity could use are kept: a later one is never better than an earlier unused one.
    """

    def __init__(self, needs: Sequence[Need], slots: _Slots, *, now_s: int, weights: Weights):
        table = slots.table
        self.cut_list = sorted({now_s + n.min_notice_hours * 3600 for n in needs})
        self.cuts = np.array(self.cut_list, np.int64)
        self.zone_column: dict[str, int] = {}
        key_columns: list[np.ndarray] = []
        for zone in sorted({n.time_zone for n in needs if n.windows}):
            keys = window_key_index(zone, WINDOW_KEYS, table.starts_at, table.ends_at)
            same = [i for i, column in enumerate(key_columns) if np.array_equal(column, keys)]
            self.zone_column[zone] = same[0] if same else len(key_columns)
            if not same:
                key_columns.append(keys)
        earlier = [n.previous_clinician_id for n in needs if n.previous_clinician_id is not None]
        is_earlier = np.isin(table.clinician_ids, earlier)
        is_near = table.starts_at < now_s + weights.continuity_days * 86400
        columns = [
            slots.clinician,
            *key_columns,
            np.searchsorted(self.cuts, table.starts_at, side="right"),
            (is_earlier & is_near).astype(np.int64),
        ]
        self.columns, block = _unique_rows(np.stack(columns, axis=1))
        order = np.lexsort((table.slot_ids, table.starts_at, slots.week, block))
        group = block[order] * (len(slots.spare) + 1) + slots.week[order]
        first = np.r_[0, np.flatnonzero(np.diff(group)) + 1]
        rank = np.arange(len(order)) - np.repeat(first, np.diff(np.r_[first, len(order)]))
        keep = np.sort(order[rank < slots.spare[slots.week[order]]])
        self.slots = slots.take(keep)
        self.slot_block = block[keep]
        self.sizes = np.bincount(self.slot_block, minlength=len(self.columns))
        self.owner = self.columns[:, 0]

    def __len__(self) -> int:
        return len(self.columns)

    def segment(self, need: Need, now_s: int) -> int:
        """The first notice segment a referral may use."""
        cut = now_s + need.min_notice_hours * 3600
        return bisect.bisect_left(self.cut_list, cut) + 1


def _unique_rows(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """np.unique(rows, axis=0, return_inverse=True) for small non-negative-or--1 integer
    columns, through one integer key per row (the same sorted order, many times faster)."""
    shifted = rows + 1
    radices = [int(column.max(initial=0)) + 1 for column in shifted.T]
    if np.prod(radices, dtype=float) >= 2**62:  # many zones: too wide for one key
        unique, inverse = np.unique(rows, axis=0, return_inverse=True)
        return unique, inverse.ravel()
    key = np.zeros(len(rows), np.int64)
    for column, radix in zip(shifted.T, radices, strict=True):
        key = key * radix + column
    _keys, first, inverse = np.unique(key, return_index=True, return_inverse=True)
    return rows[first], inverse.ravel()


@dataclass
class _Tree:
    """A segment tree over a list of blocks: heap index i < size is an internal node (node id
    base + i - 1), i >= size the block at position i - size of `blocks`."""

    blocks: np.ndarray
    base: int
    block_base: int
    below: np.ndarray  # per heap index: the times under it
    entering: np.ndarray  # per heap index: referral arcs into it
    owner: np.ndarray  # per leaf: the block's clinician position, and that clinician's
    gender: np.ndarray  # gender and specialty codes (read once per tree, not per cover)
    specialty: np.ndarray

    def __post_init__(self) -> None:
        size = len(self.blocks)
        heap = np.arange(2 * size)
        leaf = np.clip(heap - size, 0, None)
        self.node_ids = np.where(
            heap >= size, self.block_base + self.blocks[leaf], self.base + heap - 1
        )

    def node(self, index: np.ndarray) -> np.ndarray:
        return self.node_ids[index]

    def arcs(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Arcs down the tree, each with capacity for no more than the times below it and the
        referrals that enter at or above it: loose capacities make the solver push large
        amounts of flow around in its first phases.

        An internal node that no referral enters is only a way through, so it is left out:
        its nearest entered ancestor links straight to what lies below it (the entered nodes
        and the blocks). The blocks each referral reaches are the same; the solver has far
        fewer nodes to price (about half of the network's nodes were such nodes)."""
        size = len(self.blocks)
        reach = self.entering.copy()
        is_entered = self.entering > 0
        ancestor = np.zeros(2 * size, np.int64)  # nearest entered proper ancestor, 0: none
        for level in _levels(size)[1:]:
            parent = level // 2
            reach[level] += reach[parent]
            ancestor[level] = np.where(is_entered[parent], parent, ancestor[parent])
        children = np.arange(2, 2 * size)
        children = children[(children >= size) | is_entered[children]]
        capacity = np.minimum(self.below[children], reach[children])
        keep = (capacity > 0) & (ancestor[children] > 0)
        children = children[keep]
        return self.node(ancestor[children]), self.node(children), capacity[keep]


def _levels(size: int) -> list[np.ndarray]:
    """The heap indices of a bottom-up segment tree over `size` leaves, level by level from
    the root: a parent (i // 2) is always in the level before its children."""
    levels, first = [], 1
    while first < 2 * size:
        levels.append(np.arange(first, min(2 * first, 2 * size)))
        first *= 2
    return levels


class _Network:
    """The flow network for one tier of a batch (see the module docstring), built and solved.

    Node ids: referrals first, then blocks, then tree nodes (internal ones only: a tree's
    leaves are the block nodes), shared covers, clinician-weeks and the sink.
    """

    def __init__(
        self,
        needs: Sequence[Need],
        clinicians: _Clinicians,
        blocks: _Blocks,
        *,
        now_s: int,
        weights: Weights,
        counts: np.ndarray | None = None,
    ) -> None:
        self.needs, self.clinicians, self.blocks = needs, clinicians, blocks
        self.counts = np.ones(len(needs), np.int64) if counts is None else counts
        self.now_s, self.weights = now_s, weights
        self.arcs = _Arcs()
        self.block_base = len(needs)
        self.tree_base = self.block_base + len(blocks)
        self.next_node = self.tree_base
        self.trees: dict[tuple, _Tree | None] = {}

    # -- trees --

    def _tree(
        self, need: Need, column: int | None, key: int, family: str, segment: int | None = None
    ) -> _Tree | None:
        if segment is None:
            segment = self.blocks.segment(need, self.now_s)
        tree_key = (need.program_id, need.modality, column, key, segment, family)
        if tree_key not in self.trees:
            self.trees[tree_key] = self._build_tree(need, column, key, segment, family)
        return self.trees[tree_key]

    def _build_tree(
        self, need: Need, column: int | None, key: int, segment: int, family: str
    ) -> _Tree | None:
        blocks, owner = self.blocks, self.blocks.owner
        mask = self.clinicians.eligible(need.program_id, need.modality)[owner]
        mask &= blocks.columns[:, -2] >= segment
        if column is not None:
            mask &= blocks.columns[:, 1 + column] == key
        chosen = np.nonzero(mask)[0]
        if len(chosen) == 0:
            return None
        chosen = chosen[np.lexsort((chosen, self.clinicians.order_key(family)[owner[chosen]]))]
        size = len(chosen)
        below = np.zeros(2 * size, np.int64)
        below[size:] = blocks.sizes[chosen]
        for level in reversed(_levels(size)):
            inner = level[level < size]
            below[inner] = below[2 * inner] + below[2 * inner + 1]
        owner = blocks.owner[chosen]
        tree = _Tree(
            chosen,
            self.next_node,
            self.block_base,
            below,
            np.zeros(2 * size, np.int64),
            owner,
            self.clinicians.gender_code[owner],
            self.clinicians.specialty_code[owner],
        )
        self.next_node += size - 1
        return tree

    def _kept_blocks(self, need: Need, excluded: np.ndarray, tree: _Tree) -> np.ndarray:
        """The earlier clinician's blocks within continuity reach, for direct arcs."""
        earlier = self.clinicians.index[need.previous_clinician_id]
        owner = self.blocks.owner[tree.blocks]
        is_kept = (owner == earlier) & (self.blocks.columns[tree.blocks, -1] == 1)
        return self.block_base + tree.blocks[is_kept & ~excluded[owner]]

    def _kept_cost(self, need: Need) -> int:
        """A direct arc's cost: the earlier clinician's preferences, without continuity."""
        profile = self.clinicians.profiles[self.clinicians.index[need.previous_clinician_id]]
        return preference_points(need, profile.gender, profile.specialty, self.weights)

    def _uses(self) -> tuple[list[tuple], list[np.ndarray], list[tuple]]:
        """What each class may use, tree by tree: (class, tree, filter, exclusion, cost) rows,
        the clinicians each exclusion leaves out, and the direct arcs of continuity."""
        uses, direct = [], []
        exclusion_ids: dict[tuple, int] = {}
        mask_ids: dict[bytes, int] = {}  # exclusions that leave out the same clinicians
        masks: list[np.ndarray] = []
        parts_of: dict[tuple, tuple[list[_Part], list[tuple]]] = {}
        trees_of: dict[tuple, list[_Tree | None]] = {}  # per kind of referral and window
        for position, need in enumerate(self.needs):
            exclusion = (
                need.excluded_district_ids,
                need.excluded_facility_ids,
                need.excluded_clinician_ids,
            )
            if exclusion not in exclusion_ids:
                mask = self.clinicians.excluded(need)
                exclusion_ids[exclusion] = mask_ids.setdefault(mask.tobytes(), len(masks))
                if exclusion_ids[exclusion] == len(masks):
                    masks.append(mask)
            exclusion_id = exclusion_ids[exclusion]
            preference = (need.gender, need.specialty, need.specialty_preference)
            preference += (need.previous_clinician_id is None,)
            if preference not in parts_of:
                parts = _parts(need, self.clinicians, self.weights)
                filters = [
                    (
                        (p.gender, p.specialty, p.is_same_specialty and p.specialty is not None),
                        p.cost,
                    )
                    for p in parts
                ]
                parts_of[preference] = (parts, filters)
            parts, filters = parts_of[preference]
            is_kept = need.previous_clinician_id in self.clinicians.index
            kept_cost = self._kept_cost(need) if is_kept else 0
            segment = self.blocks.segment(need, self.now_s)
            kind = (need.program_id, need.modality, segment, preference)
            for column, key in self._window_keys(need):
                trees = trees_of.get((kind, column, key))
                if trees is None:
                    trees = [self._tree(need, column, key, p.family, segment) for p in parts]
                    trees_of[(kind, column, key)] = trees
                if trees[0] is None:
                    continue
                uses.extend(
                    (position, tree, filter_key, exclusion_id, cost)
                    for tree, (filter_key, cost) in zip(trees, filters, strict=True)
                )
                if is_kept:
                    tree = self._tree(need, column, key, "d", segment)
                    kept = self._kept_blocks(need, masks[exclusion_id], tree)
                    direct.append((position, kept, kept_cost))
        return uses, masks, direct

    def _window_keys(self, need: Need) -> list[tuple[int | None, int]]:
        if not need.windows:
            return [(None, ANY_KEY)]
        column = self.blocks.zone_column[need.time_zone]
        return [(column, WINDOW_KEYS.index(k)) for k in need.windows if k in WINDOW_KEYS]

    def link_needs(self) -> None:
        """Each class's arcs into the trees of its window keys (or of any time): for every
        tree it uses, the nodes covering the blocks whose clinicians it may see and whose
        preferences it meets. Classes that leave out the same clinicians and filter on the
        same preferences share a cover; the covers of a tree are found together, in numpy."""
        uses, masks, direct = self._uses()
        exclusions = np.array(masks, bool).reshape(len(masks), len(self.clinicians.profiles))
        by_tree: dict[int, list[int]] = defaultdict(list)
        for index, use in enumerate(uses):
            by_tree[id(use[1])].append(index)
        use_cover = np.zeros(len(uses), np.int64)
        cover_rows, cover_nodes, next_cover = [], [], 0
        counts = self.counts
        for indices in by_tree.values():
            tree = uses[indices[0]][1]
            combos: dict[tuple, int] = {}
            for index in indices:
                _position, _tree, filter_key, exclusion_id, _cost = uses[index]
                combo = combos.setdefault((filter_key, exclusion_id), len(combos))
                use_cover[index] = next_cover + combo
            allowed = ~exclusions[[e for _f, e in combos]][:, tree.owner]
            filters: dict[tuple, np.ndarray] = {}
            for row, (filter_key, _e) in enumerate(combos):
                if filter_key != _NO_FILTER:
                    if filter_key not in filters:
                        filters[filter_key] = _preference_filter(tree, *filter_key)
                    allowed[row] &= filters[filter_key]
            rows, heap = _tree_covers(len(tree.blocks), allowed)
            weight = np.zeros(len(combos), np.int64)  # the units that enter by each cover
            classes = [uses[i][0] for i in indices]
            np.add.at(weight, use_cover[indices] - next_cover, counts[classes])
            np.add.at(tree.entering, heap, weight[rows])
            cover_rows.append(rows + next_cover)
            cover_nodes.append(tree.node(heap))
            next_cover += len(combos)
        cover_of_row = np.concatenate(cover_rows) if cover_rows else np.zeros(0, np.int64)
        row_nodes = np.concatenate(cover_nodes) if cover_nodes else np.zeros(0, np.int64)
        self._add_need_arcs(uses, (use_cover, cover_of_row, row_nodes, next_cover), direct)

    def _add_need_arcs(self, uses, covers, direct) -> None:
        """The arcs from classes into the trees, through a cover's own node where several
        classes use it and that takes fewer arcs, and the direct arcs of continuity."""
        use_cover, cover_of_row, row_nodes, cover_count = covers
        counts = self.counts
        use_classes = np.array([use[0] for use in uses], np.int64)
        use_costs = np.array([use[4] for use in uses], np.int64)
        users = np.bincount(use_cover, minlength=cover_count)
        nodes_per_cover = np.bincount(cover_of_row, minlength=cover_count)
        is_shared = users * nodes_per_cover > users + nodes_per_cover
        shared_node = self.next_node + np.cumsum(is_shared) - 1
        self.cover_nodes = (self.next_node, self.next_node + int(is_shared.sum()))
        self.next_node = self.cover_nodes[1]
        by_node = is_shared[use_cover]
        tails, heads, costs = _expand(
            use_classes[~by_node],
            use_cover[~by_node],
            use_costs[~by_node],
            cover_of_row,
            row_nodes,
            cover_count,
        )
        tails = np.concatenate(
            [tails, use_classes[by_node], *(np.full(len(n), p) for p, n, _c in direct)]
        )
        heads = np.concatenate(
            [heads, shared_node[use_cover[by_node]], *(n for _p, n, _c in direct)]
        )
        costs = np.concatenate(
            [costs, use_costs[by_node], *(np.full(len(n), c) for _p, n, c in direct)]
        )
        first = self.arcs.add(tails, heads, counts[tails], costs)
        self.need_arc_range = (first, tails, heads)
        weight = np.zeros(cover_count, np.int64)
        np.add.at(weight, use_cover, counts[use_classes])
        is_shared_row = is_shared[cover_of_row]
        shared_tails = shared_node[cover_of_row[is_shared_row]]
        shared_heads = row_nodes[is_shared_row]
        first = self.arcs.add(shared_tails, shared_heads, weight[cover_of_row[is_shared_row]], 0)
        self.cover_arc_range = (first, shared_tails, shared_heads)

    # -- the rest of the network --

    def finish(self, factor: float) -> None:
        """Blocks → clinician-weeks (one arc per time, priced by its wait and the clinician's
        fairness), clinician-weeks → sink, and the unmatched arcs."""
        for tree in self.trees.values():
            if tree is not None and len(tree.blocks) > 1:
                self.arcs.add(*tree.arcs(), 0)
        slots = self.blocks.slots
        self.week_base = self.next_node
        self.sink = self.week_base + len(slots.spare)
        self.next_node = self.sink + 1
        minutes = (slots.table.starts_at - self.now_s) // 60
        fairness = self.clinicians.fairness[slots.clinician]
        cost = np.rint(wait_points(factor, minutes)).astype(np.int64) + fairness
        tails = self.block_base + self.blocks.slot_block
        self.entry_first = self.arcs.add(tails, self.week_base + slots.week, 1, cost)
        self.arcs.add(self.week_base + np.arange(len(slots.spare)), self.sink, slots.spare, 0)
        penalties = [unmatched_points(need, self.weights) for need in self.needs]
        self.arcs.add(np.arange(len(self.needs)), self.sink, self.counts, penalties)

    def solve(self) -> np.ndarray:
        """The optimal flow on every arc. The solver sees only the nodes some arc touches
        (numbered densely): the internal tree nodes left out still have ids here."""
        tails, heads, capacities, costs = self.arcs.columns()
        supplies = np.zeros(self.next_node, np.int64)
        supplies[: len(self.needs)] = self.counts
        supplies[self.sink] = -self.counts.sum()
        is_used = np.zeros(self.next_node, bool)
        is_used[tails] = is_used[heads] = True
        dense = np.cumsum(is_used) - 1
        node_count = int(is_used.sum())
        dense_tails, dense_heads = dense[tails], dense[heads]
        # pylmcf takes arcs sorted by tail, then head.
        order = np.argsort(dense_tails * node_count + dense_heads, kind="stable")
        graph = pylmcf.Graph(node_count, dense_tails[order], dense_heads[order])
        graph.set_node_supply(supplies[is_used])
        graph.set_edge_capacities(capacities[order])
        graph.set_edge_costs(costs[order])
        graph.solve()  # RuntimeError if infeasible, which the unmatched arcs rule out
        self.tails, self.heads = tails, heads
        flows = np.empty(len(tails), np.int64)
        flows[order] = graph.result()
        return flows

    def follow(self, flows: np.ndarray) -> list[tuple[int, int]]:
        """Each unit of flow as (its class, its time's position in the block slots), following
        the flow from the class through the trees to a block. Any split of a node's flow
        among the units that reach it is valid, since every one of them may use every block
        below it; tree nodes go first (an ancestor's id is below its descendants') and blocks
        after them."""
        pending: dict[int, list[int]] = defaultdict(list)
        first, tails, heads = self.need_arc_range
        entering = flows[first : first + len(tails)]
        for arc in np.nonzero(entering)[0].tolist():
            pending[int(heads[arc])].extend([int(tails[arc])] * int(entering[arc]))
        first, tails, heads = self.cover_arc_range
        leaving = flows[first : first + len(tails)]
        for arc in np.nonzero(leaving)[0].tolist():
            units, count = pending[int(tails[arc])], int(leaving[arc])
            pending[int(heads[arc])].extend(units[:count])
            del units[:count]
        count = len(self.blocks.slots.table)
        is_routing = (self.tails >= self.block_base) & (self.tails < self.week_base) & (flows > 0)
        is_routing &= (self.tails < self.cover_nodes[0]) | (self.tails >= self.cover_nodes[1])
        routing = np.nonzero(is_routing)[0]
        is_block = self.tails[routing] < self.tree_base
        routing = routing[np.lexsort((self.tails[routing], is_block))]
        assigned: list[tuple[int, int]] = []
        for group in np.split(routing, np.flatnonzero(np.diff(self.tails[routing])) + 1):
            if len(group) == 0:
                continue
            units, taken = pending.pop(int(self.tails[group[0]]), []), 0
            for arc in group.tolist():
                share = units[taken : taken + int(flows[arc])]
                taken += len(share)
                slot = arc - self.entry_first
                if 0 <= slot < count:
                    assigned.extend((position, slot) for position in share)
                else:
                    pending[int(self.heads[arc])].extend(share)
        return assigned


class _NeedClasses:
    """Referrals that every constraint and cost treats alike (all but their id and order),
    as one source each whose supply is their number: the network is then as large as the
    distinct needs, not the referrals. The flow is handed back oldest first (`order`, then
    id): a class's earliest times go to its oldest referrals, and those left over are its
    youngest. Any referral of a class may take any of its times at the same cost, so the
    total is the same as with one source per referral."""

    def __init__(self, needs: Sequence[Need]) -> None:
        members: dict[tuple, list[int]] = {}
        for position, need in enumerate(needs):
            members.setdefault(_class_key(need), []).append(position)
        by_age = [
            sorted(group, key=lambda i: (needs[i].order, needs[i].referral_id))
            for group in members.values()
        ]
        self.members = by_age
        self.needs = [needs[group[0]] for group in by_age]
        self.counts = np.array([len(group) for group in by_age], np.int64)

    def hand_out(self, units: list[tuple[int, int]], starts_at: np.ndarray, slot_ids: np.ndarray):
        """(referral position, time) pairs from (class, time) units."""
        times: dict[int, list[int]] = defaultdict(list)
        for position, slot in units:
            times[position].append(slot)
        for position, slots in times.items():
            slots.sort(key=lambda slot: (int(starts_at[slot]), int(slot_ids[slot])))
            yield from zip(self.members[position], slots, strict=False)


def _class_key(need: Need) -> tuple:
    return tuple(getattr(need, name) for name in Need.__slots__ if name not in _NOT_CLASS)


_NOT_CLASS = {"referral_id", "order"}


def _assign_tier(
    needs: Sequence[Need], roster: _Clinicians, slots: SlotTable, *, now: dt.datetime, weights
) -> tuple[list[Proposal], list[int], set[int]]:
    """One tier's minimum-cost assignment: proposals, positions left over, and the positions
    that had at least one feasible time."""
    now_s = epoch(now)
    earliest = now_s + min(n.min_notice_hours for n in needs) * 3600
    classes = _NeedClasses(needs)
    blocks = _Blocks(
        classes.needs, _usable_slots(roster, slots, earliest), now_s=now_s, weights=weights
    )
    network = _Network(
        classes.needs, roster, blocks, now_s=now_s, weights=weights, counts=classes.counts
    )
    network.link_needs()
    network.finish(wait_factor(needs[0], weights))
    usable = blocks.slots
    units = network.follow(network.solve())
    assigned = dict(classes.hand_out(units, usable.table.starts_at, usable.table.slot_ids))
    proposals = []
    for position, slot in sorted(assigned.items()):
        clinician = roster.profiles[int(usable.clinician[slot])]
        starts_at = usable.table.starts_at_datetime(slot)
        proposals.append(
            Proposal(
                referral_id=needs[position].referral_id,
                slot_id=int(usable.table.slot_ids[slot]),
                clinician_id=clinician.clinician_id,
                starts_at=starts_at,
                cost=slot_cost(needs[position], clinician, starts_at, now=now, weights=weights),
            )
        )
    left = [i for i in range(len(needs)) if i not in assigned]
    linked = {i for c in set(network.need_arc_range[1].tolist()) for i in classes.members[c]}
    return proposals, left, linked


def after_proposals(
    clinicians: Sequence[ClinicianProfile],
    slots: SlotTable,
    proposals: Sequence[Proposal],
    *,
    now: dt.datetime,
    weights: Weights,
) -> tuple[list[ClinicianProfile], SlotTable]:
    """The clinicians' load and the open times once `proposals` hold their slots."""
    taken = {p.slot_id for p in proposals}
    by_clinician: dict[int, list[Proposal]] = defaultdict(list)
    for proposal in proposals:
        by_clinician[proposal.clinician_id].append(proposal)
    updated = []
    for profile in clinicians:
        booked = dict(profile.booked_by_week)
        for proposal in by_clinician.get(profile.clinician_id, ()):
            week = week_start_on(proposal.starts_at, profile.time_zone)
            booked[week] = booked.get(week, 0) + 1
        load = fairness_load(
            booked, now=now, time_zone=profile.time_zone, weeks=weights.fairness_weeks
        )
        updated.append(replace(profile, booked_by_week=booked, upcoming_load=load))
    return updated, slots.take(np.nonzero(~np.isin(slots.slot_ids, list(taken)))[0])


@collector_paused()
def assign_batch(
    needs: Sequence[Need],
    clinicians: Sequence[ClinicianProfile],
    slots: SlotTable,
    *,
    now: dt.datetime,
    weights: Weights,
) -> BatchResult:
    """Assign `needs` to the open, offered times in `slots`: PRIORITY referrals first, as one
    minimum-cost flow, then routine ones over what is left (their load counting the priority
    proposals). Within each tier the total cost is the minimum. Deterministic."""
    proposals: list[Proposal] = []
    unmatched: list[NoProposal] = []
    left_over: list[Need] = []
    for is_priority in (True, False):
        tier = [n for n in needs if n.is_priority == is_priority]
        if not tier:
            continue
        roster = _Clinicians(clinicians, weights)
        tier_proposals, left, linked = _assign_tier(tier, roster, slots, now=now, weights=weights)
        proposals += tier_proposals
        left_over += [tier[i] for i in left]
        unmatched += [
            NoProposal(tier[i].referral_id, None, CONTENDED_REASON)
            if i in linked
            else _why_unmatched(tier[i], roster, slots, now=now)
            for i in left
        ]
        clinicians, slots = after_proposals(
            clinicians, slots, tier_proposals, now=now, weights=weights
        )
    return BatchResult(
        proposals=tuple(proposals),
        unmatched=tuple(unmatched),
        total_cost=total_cost(proposals, left_over, weights),
    )


def _why_unmatched(
    need: Need, roster: _Clinicians, slots: SlotTable, *, now: dt.datetime
) -> NoProposal:
    constraint = emptied_by(need, roster.by_id, slots, now=now)
    reason = EMPTIED_POOL_REASONS[constraint] if constraint else CONTENDED_REASON
    return NoProposal(need.referral_id, constraint, reason)


def assign_greedy(
    needs: Sequence[Need],
    clinicians: Sequence[ClinicianProfile],
    slots: SlotTable,
    *,
    now: dt.datetime,
    weights: Weights,
) -> BatchResult:
    """What round-robin booking tools do, with our hard constraints: each referral in turn
    (PRIORITY first, then by arrival) goes to the least recently booked clinician who has a
    feasible time, at that clinician's earliest feasible time. Costed like `assign_batch`."""
    if not needs:
        return BatchResult((), (), 0)
    now_s = epoch(now)
    roster = _Clinicians(clinicians, weights)
    earliest = now_s + min(n.min_notice_hours for n in needs) * 3600
    usable = _usable_slots(roster, slots, earliest)
    table, owner = usable.table, usable.clinician
    spare, is_taken = usable.spare.copy(), np.zeros(len(table), bool)
    last_booked = np.array(
        [p.last_booked_at.timestamp() if p.last_booked_at else -np.inf for p in roster.profiles]
    )
    booked_at = float(max(now_s, np.max(last_booked, initial=now_s)))
    windows_cache: dict[tuple, np.ndarray] = {}
    proposals, left = [], []
    for need in sorted(needs, key=lambda n: (not n.is_priority, n.order, n.referral_id)):
        window_key = (need.time_zone, need.windows)
        if window_key not in windows_cache:
            windows_cache[window_key] = windows_mask(need, table)
        allowed = roster.eligible(need.program_id, need.modality) & ~roster.excluded(need)
        feasible = np.nonzero(
            allowed[owner]
            & windows_cache[window_key]
            & (table.starts_at >= now_s + need.min_notice_hours * 3600)
            & ~is_taken
            & (spare[usable.week] > 0)
        )[0]
        if len(feasible) == 0:
            left.append(need)
            continue
        options = owner[feasible]
        chosen = options[np.lexsort((options, last_booked[options]))[0]]
        own = feasible[options == chosen]
        slot = int(own[np.lexsort((table.slot_ids[own], table.starts_at[own]))[0]])
        is_taken[slot] = True
        spare[usable.week[slot]] -= 1
        booked_at += 1
        last_booked[chosen] = booked_at
        clinician = roster.profiles[int(chosen)]
        starts_at = table.starts_at_datetime(slot)
        proposals.append(
            Proposal(
                referral_id=need.referral_id,
                slot_id=int(table.slot_ids[slot]),
                clinician_id=clinician.clinician_id,
                starts_at=starts_at,
                cost=slot_cost(need, clinician, starts_at, now=now, weights=weights),
            )
        )
    return BatchResult(
        proposals=tuple(proposals),
        unmatched=tuple(NoProposal(n.referral_id, None, CONTENDED_REASON) for n in left),
        total_cost=total_cost(proposals, left, weights),
    )
