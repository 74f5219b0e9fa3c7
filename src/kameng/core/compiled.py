"""Hot-path statements built with the ORM once, then run as SQL with new values.

Building a statement with the ORM costs 0.5–1 ms of Python every time (cloning the query, resolving
names, compiling it), five to ten times the round trip it leads to. On the purchase path, where the
same dozen statements run for every purchase with only their values changed, building them was half
of the server's CPU (bench/purchase_throughput.py, py-spy). Here a statement is still built by the
ORM — so its tables, columns, rules and dialect stay where they are written — but only once per
database connection; afterwards only its values change.

- `insert(objs)`: `bulk_create` for new rows of one model, its INSERT … RETURNING id compiled once per
  (model, row count). Values are prepared per field exactly as the ORM prepares them (`pre_save`,
  `get_db_prep_save`); values are plain values, never expressions. A model the compiled form cannot
  take (database defaults, custom placeholders, columns returned besides the id) goes through
  `bulk_create` itself.
- `save_fields(obj, fields)`: `obj.save(update_fields=fields)` for a row that exists, its UPDATE compiled
  once per (model, fields). A django-fsm `ConcurrentTransitionMixin` model keeps its guard: the row is
  written only while its state is still the one read, else `ConcurrentTransition`, as its save() raises.
- `Query(build, **kinds)`: a read built by `build(**values)` (a queryset) compiled once with stand-ins
  for its values (integers, or strings where `kinds` says `str`); `first(**values)` runs it with the
  real ones and returns a model instance with its annotations, converted as the ORM converts them
  (`all(**values)`: every row).
  A `select_for_update()` read is taken through `kameng.core.locks.lock_first_compiled`, which keeps
  the lock order.

The cache lives on the connection object (one per thread), so a compiled statement is never shared
between threads and follows the database it was compiled for.
"""

from collections.abc import Callable
from functools import cache, partial
from inspect import signature

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models import AutoField, Model, QuerySet, signals
from django.db.models.sql import InsertQuery, UpdateQuery
from django.db.models.sql.compiler import SQLInsertCompiler

_CACHE_ATTR = "_kameng_compiled"
# Stand-ins for a query's ids while it is compiled: integers no table holds, found again among the
# compiled parameters (each must appear exactly once, or the query is refused as unsuitable).
_STAND_IN_BASE = -7_300_000_000_000_000_000
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


def _cache(alias: str) -> dict:
    connection = connections[alias]
    statements = connection.__dict__.get(_CACHE_ATTR)
    if statements is None:
        statements = connection.__dict__[_CACHE_ATTR] = {}
    return statements


# ---- INSERT ------------------------------------------------------------------------------------


@cache  # a model's columns are fixed for the life of the process
def _insert_fields(model) -> list | None:
    """The columns `bulk_create` writes for new rows, or None where the compiled form does not apply."""
    fields = [f for f in model._meta.concrete_fields if not f.generated and not isinstance(f, AutoField)]
    if any(f.has_db_default() or hasattr(f, "get_placeholder_sql") for f in fields):
        return None
    if [f.attname for f in model._meta.db_returning_fields] != [model._meta.pk.attname]:
        return None
    return fields


def _compile_insert(model, fields, objs, alias):
    """(sql, layout) for len(objs) rows, or None: layout "rows" (VALUES, a parameter per field per row),
    or "columns" (one array per field) should a backend still answer with UNNEST."""
    connection = connections[alias]
    if len(objs) > 1 and not connection.features.can_return_rows_from_bulk_insert:
        return None
    query = InsertQuery(model)
    query.insert_values(fields, objs, raw=False)
    compiler = query.get_compiler(using=alias)
    # Rows as VALUES, not PostgreSQL's UNNEST of one array per column: for the few rows a purchase
    # writes, arrays cost more to build than scalars (0.20 against 0.12 ms of CPU for 3 events).
    compiler.assemble_as_sql = partial(SQLInsertCompiler.assemble_as_sql, compiler)
    compiler.returning_fields = model._meta.db_returning_fields
    statements = compiler.as_sql()
    if len(statements) != 1:
        return None
    sql, params = statements[0]
    n = len(objs)
    if len(params) == n * len(fields):
        return sql, "rows"
    if len(params) == len(fields) and all(isinstance(column, list) and len(column) == n for column in params):
        return sql, "columns"
    return None


def insert(objs: list[Model], *, using: str = DEFAULT_DB_ALIAS) -> list[Model]:
    """Insert new rows of one model in one statement and give each object its id, as `bulk_create` does."""
    if not objs:
        return objs
    model = type(objs[0])
    fields = _insert_fields(model)
    if fields is None:
        return model._default_manager.using(using).bulk_create(objs)
    cache = _cache(using)
    key = ("insert", model, len(objs))
    compiled = cache.get(key)
    if compiled is None:
        compiled = cache[key] = _compile_insert(model, fields, objs, using) or False
    if compiled is False:
        return model._default_manager.using(using).bulk_create(objs)
    sql, layout = compiled
    connection = connections[using]
    for obj in objs:
        obj._prepare_related_fields_for_save(operation_name="bulk_create")
    rows = [[field.get_db_prep_save(field.pre_save(obj, add=True), connection=connection) for field in fields]
            for obj in objs]
    params = [value for row in rows for value in row] if layout == "rows" else list(map(list, zip(*rows, strict=True)))
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        ids = cursor.fetchall()
    pk = model._meta.pk.attname
    for obj, (new_id,) in zip(objs, ids, strict=True):
        setattr(obj, pk, new_id)
        obj._state.adding = False
        obj._state.db = using
    return objs


# ---- UPDATE ------------------------------------------------------------------------------------


@cache  # a model's fields are fixed for the life of the process
def _state_guards(model) -> tuple:
    """The state fields a django-fsm ConcurrentTransitionMixin save() filters on (none for other models)."""
    from django_fsm import ConcurrentTransitionMixin, FSMFieldMixin

    if not issubclass(model, ConcurrentTransitionMixin):
        return ()
    return tuple(f for f in model._meta.fields if isinstance(f, FSMFieldMixin) and f.model is model)


def _initial_states(obj) -> dict:
    # django-fsm keeps the states read from the database under this (name-mangled) attribute.
    return obj._ConcurrentTransitionMixin__initial_states


def _compile_update(model, fields, values, where, alias):
    """UPDATE … SET fields WHERE pk (AND state guards), or None if the ORM would write it another way.

    Compiled with this call's own values, then checked to take them in the order they are given
    (SET values, then the id, then the guards), so later calls only put new values in those places."""
    connection = connections[alias]
    queryset = model._base_manager.using(alias)
    for name, value in where:
        queryset = queryset.filter(**{name: value})
    query = queryset.query.chain(UpdateQuery)
    query.add_update_fields([(field, None, value) for field, value in zip(fields, values, strict=True)])
    sql, params = query.get_compiler(using=alias).as_sql()
    prepared = [field.get_db_prep_save(value, connection=connection) for field, value in zip(fields, values, strict=True)]
    if list(params) != [*prepared, *(value for _, value in where)] or sql.count("%s") != len(params):
        return None
    return sql


def save_fields(obj: Model, fields: list[str], *, guard_state: bool = True, using: str = DEFAULT_DB_ALIAS) -> None:
    """`obj.save(update_fields=fields)` for a row that exists, its UPDATE compiled once per (model, fields).

    `guard_state=False` writes the row whatever its state now is (as `QuerySet.update` would), for fields
    no transition is about (a payment's checkout URL, say)."""
    model = type(obj)
    if signals.pre_save.has_listeners(model) or signals.post_save.has_listeners(model):
        return obj.save(update_fields=fields, using=using)  # receivers expect a save()
    meta = model._meta
    concrete = [meta.get_field(name) for name in fields]
    values = [field.pre_save(obj, False) for field in concrete]
    if any(field.generated or field.primary_key for field in concrete) or any(
            hasattr(value, "resolve_expression") or hasattr(value, "prepare_database_save") for value in values):
        return obj.save(update_fields=fields, using=using)  # expressions, returned columns: the ORM's own way
    guards = _state_guards(model) if guard_state else ()
    where = [("pk", obj.pk), *((g.attname, _initial_states(obj)[g.attname]) for g in guards)]
    cache = _cache(using)
    key = ("update", model, tuple(fields), bool(guards))
    sql = cache.get(key)
    if sql is None:
        sql = cache[key] = _compile_update(model, concrete, values, where, using) or False
    if sql is False:
        return obj.save(update_fields=fields, using=using)
    connection = connections[using]
    params = [field.get_db_prep_save(value, connection=connection) for field, value in zip(concrete, values, strict=True)]
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, *(value for _, value in where)])
        written = cursor.rowcount
    if written != 1:
        if guards and model._base_manager.using(using).filter(pk=obj.pk).exists():
            from django_fsm import ConcurrentTransition

            raise ConcurrentTransition("Cannot save object! The state has been changed since fetched from the database!")
        raise model.NotUpdated("Save with update_fields did not affect any rows.")
    obj._state.adding = False
    obj._state.db = using
    if _state_guards(model):
        obj._update_initial_state()


# ---- SELECT ------------------------------------------------------------------------------------


def _stand_in(kind: type, i: int):
    return f"kameng-stand-in-{i}-{_STAND_IN_BASE}" if kind is str else _STAND_IN_BASE - i


class Query:
    """A read built once by `build(**values)` and run many times with new values (int unless `kinds` says str)."""

    def __init__(self, build: Callable[..., QuerySet], **kinds: type):
        self.build = build
        self.names = list(signature(build).parameters)
        self.kinds = {name: kinds.get(name, int) for name in self.names}

    def model(self, using: str = DEFAULT_DB_ALIAS):
        return self._compiled(using)[4]

    def _compiled(self, using: str):
        cache = _cache(using)
        compiled = cache.get(self)
        if compiled is None:
            compiled = cache[self] = self._compile(using)
        return compiled

    def _compile(self, alias: str):
        stand_ins = {name: _stand_in(self.kinds[name], i) for i, name in enumerate(self.names)}
        queryset = self.build(**stand_ins)
        compiler = queryset.query.get_compiler(using=alias)
        sql, params = compiler.as_sql()
        slots = {}
        for name, value in stand_ins.items():
            found = [i for i, param in enumerate(params) if param == value and type(param) is type(value)]
            if len(found) != 1:
                raise ValueError(f"{name} must appear once among the compiled parameters of {sql}")
            slots[name] = found[0]
        klass_info = compiler.klass_info
        fields = klass_info["select_fields"]
        start, end = fields[0], fields[-1] + 1
        init_list = [column[0].target.attname for column in compiler.select[start:end]]
        return compiler, sql, list(params), slots, klass_info["model"], init_list, (start, end)

    def first(self, *, using: str = DEFAULT_DB_ALIAS, **values):
        """The first row as a model instance (with its annotations), or None."""
        found = self._run(using, values, one=True)
        return found[0] if found else None

    def all(self, *, using: str = DEFAULT_DB_ALIAS, **values) -> list:
        """Every row, as model instances (with their annotations)."""
        return self._run(using, values, one=False)

    def _run(self, using: str, values: dict, *, one: bool) -> list:
        compiler, sql, params, slots, model, init_list, (start, end) = self._compiled(using)
        params = list(params)
        for name, position in slots.items():
            value = values[name]
            if not isinstance(value, self.kinds[name]) or isinstance(value, bool):
                raise TypeError(f"{name} is a {self.kinds[name].__name__}, not {value!r}")
            if isinstance(value, int) and not _INT64_MIN <= value <= _INT64_MAX:
                return []  # no column holds it (the ORM answers the same; the database would refuse it)
            params[position] = value
        with connections[using].cursor() as cursor:
            cursor.execute(sql, params)
            rows = cursor.fetchmany(1) if one else cursor.fetchall()
        found = []
        for row in compiler.results_iter(results=[rows]):
            obj = model.from_db(using, init_list, row[start:end])
            for name, position in compiler.annotation_col_map.items():
                setattr(obj, name, row[position])
            found.append(obj)
        return found
