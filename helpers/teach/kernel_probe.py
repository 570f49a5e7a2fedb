"""Kernel-side integrity probe. Its source is injected into a submission's kernel as a cell; never imported.

``_course_probe_install(nonce, names)`` runs first, before any learner code: it records the
kernel's state (IPython's transformers, hooks and methods, the tracing hooks, builtins, and
``names``: the modules, functions and classes the tests use) and the functions it needs, so that later
patches to builtins cannot blind it. Each later probe cell calls ``check(i)``, which prints
``course-integrity-ok NONCE i`` when nothing changed, or ``course-integrity-tampered NONCE i``
followed by one line per change. The grader, outside the kernel, reads those lines.
"""


def _course_probe_install(nonce, names):
    import builtins
    import importlib
    import sys
    import threading
    import types

    ip = get_ipython()  # noqa: F821 (an IPython builtin)
    real = {name: getattr(builtins, name) for name in ("id", "getattr", "isinstance", "vars", "type", "print",
                                                       "sorted", "list", "repr", "len", "callable")}

    def ident(value):
        """Identity of a value; a bound method counts as its object and function (IPython rebinds some per cell)."""
        # torch wraps some functions lazily (torch.manual_seed when torch._dynamo loads, an optimizer's step when
        # the first one is built): see through wrappers whose code lives inside torch itself.
        torch = sys.modules.get("torch")
        where = real["getattr"](real["getattr"](value, "__code__", None), "co_filename", "")
        while torch is not None and where.startswith(torch.__file__.rsplit("/", 1)[0] + "/") \
                and real["getattr"](value, "__wrapped__", None) is not None:
            value = value.__wrapped__
            where = real["getattr"](real["getattr"](value, "__code__", None), "co_filename", "")
        if real["isinstance"](value, types.MethodType):
            return (real["id"](value.__self__), real["id"](value.__func__))
        return real["id"](value)

    shell_methods = ("run_cell", "run_cell_async", "_run_cell", "run_ast_nodes", "run_code", "transform_cell",
                     "transform_ast", "should_run_async", "showtraceback", "_showtraceback", "showsyntaxerror",
                     "get_exception_only", "set_custom_exc", "ex", "ev", "run_line_magic", "run_cell_magic")
    shell_parts = ("compile", "events", "input_transformer_manager", "displayhook", "display_pub", "kernel",
                   "InteractiveTB", "SyntaxTB", "builtin_trap", "display_trap", "session", "iopub_socket")
    def resolve(dotted):
        """The object a dotted name such as "torch.testing.assert_close" names, importing what it needs."""
        parts = dotted.split(".")
        for cut in range(len(parts), 0, -1):
            try:
                obj = importlib.import_module(".".join(parts[:cut]))
            except Exception:
                continue
            for attr in parts[cut:]:
                obj = real["getattr"](obj, attr)
            return obj
        raise LookupError(dotted)

    loaded = {}
    for name in names:
        try:
            loaded[name] = resolve(name)
        except Exception:  # a name the tests create later, or a module missing here: nothing to watch
            pass

    def class_dicts(obj):
        """Every class in obj's type's MRO, with the ids of what it defines."""
        return [(c, dict((k, ident(v)) for k, v in list(c.__dict__.items()))) for c in real["type"](obj).__mro__
                if c is not object]

    def instance_members(obj):
        """ids of an object's own callables, and of the shell parts that must stay the same objects."""
        own = real["vars"](obj)
        return {k: ident(v) for k, v in list(own.items()) if real["callable"](v) or k in shell_parts}

    def transformer_lists():
        manager = ip.input_transformer_manager
        return {
            "input_transformers_cleanup": real["list"](manager.cleanup_transforms),
            "input_transformer_manager.line_transforms": real["list"](manager.line_transforms),
            "input_transformer_manager.token_transformers": real["list"](manager.token_transformers),
            "input_transformers_post": real["list"](ip.input_transformers_post),
        }

    kernel = getattr(ip, "kernel", None)
    watched = [ip, ip.compile, ip.events, ip.input_transformer_manager, ip.displayhook, ip.display_pub]
    if kernel is not None:
        watched += [kernel, kernel.session]
    state = {
        "transformers": transformer_lists(),
        "manager": real["id"](ip.input_transformer_manager),
        "ast": real["list"](ip.ast_transformers),
        "events": {k: real["list"](v) for k, v in ip.events.callbacks.items()},
        "classes": [class_dicts(obj) for obj in watched],
        "instances": [(obj, instance_members(obj)) for obj in watched],
        "builtins": dict((k, ident(v)) for k, v in builtins.__dict__.items()),
        "names": {name: ident(obj) for name, obj in loaded.items()},
        "modules": {name: real["id"](obj) for name, obj in loaded.items() if real["isinstance"](obj, types.ModuleType)},
        "types": [(cls, dict((k, ident(v)) for k, v in list(cls.__dict__.items())))
                  for cls in loaded.values() if real["isinstance"](cls, type)],
        "hooks": (sys.excepthook, sys.displayhook),
    }

    def allowed_ast(t):
        blanks = sys.modules.get("helpers.blanks")
        return blanks is not None and real["type"](t) is getattr(blanks, "_BlankGuard", None)

    def allowed_callback(cb):
        module = getattr(cb, "__module__", None) or getattr(getattr(cb, "__func__", None), "__module__", "") or ""
        return module.split(".")[0] in {"IPython", "ipykernel", "matplotlib_inline", "matplotlib", "ipywidgets", "comm"}

    def problems():
        found = []
        for name, items in transformer_lists().items():
            if items != state["transformers"][name]:
                added = [real["repr"](t) for t in items if t not in state["transformers"][name]]
                found.append(f"IPython's {name} changed (added: {', '.join(added) or 'none'})")
        if real["id"](ip.input_transformer_manager) != state["manager"]:
            found.append("IPython's input_transformer_manager was replaced")
        extra = [t for t in ip.ast_transformers if t not in state["ast"] and not allowed_ast(t)]
        if extra or any(t not in ip.ast_transformers for t in state["ast"]):
            found.append(f"IPython's ast_transformers changed (added: {', '.join(real['repr'](t) for t in extra) or 'none'})")
        for event, callbacks in ip.events.callbacks.items():
            new = [cb for cb in callbacks if cb not in state["events"].get(event, []) and not allowed_callback(cb)]
            if new:
                found.append(f"IPython event callbacks registered for {event}: {', '.join(real['repr'](c) for c in new)}")
        if ip.custom_exceptions:
            found.append(f"a custom exception handler was installed for {ip.custom_exceptions!r}")
        for obj, members in state["instances"]:
            for name, member in real["sorted"](instance_members(obj).items()):
                if members.get(name) != member and (obj is not ip or name in shell_methods or name in shell_parts
                                                   or not name.startswith("_")):
                    found.append(f"{real['type'](obj).__name__}.{name} was replaced on the running object")
        for dicts in state["classes"]:
            for cls, members in dicts:
                for name, member in members.items():
                    if ident(cls.__dict__.get(name)) != member:
                        found.append(f"{cls.__module__}.{cls.__name__}.{name} was patched")
        if sys.gettrace() is not None or sys.getprofile() is not None:
            found.append(f"a tracing or profiling hook is set ({sys.gettrace() or sys.getprofile()!r})")
        if threading.gettrace() is not None or threading.getprofile() is not None:
            found.append("a tracing or profiling hook is set for new threads")
        if (sys.excepthook, sys.displayhook) != state["hooks"]:
            found.append("sys.excepthook or sys.displayhook was replaced")
        for name, member in state["builtins"].items():
            if ident(builtins.__dict__.get(name)) != member:
                found.append(f"the builtin {name} was patched or removed")
        for name, module_id in state["modules"].items():
            if real["id"](sys.modules.get(name)) != module_id:
                found.append(f"sys.modules[{name!r}] was replaced")
        for name, member in state["names"].items():
            try:
                now = ident(resolve(name))
            except Exception:
                now = None
            if now != member:
                found.append(f"{name} was patched")
        for cls, members in state["types"]:
            for attr, attr_id in members.items():
                if ident(cls.__dict__.get(attr)) != attr_id:
                    found.append(f"{cls.__module__}.{cls.__qualname__}.{attr} was patched")
        return found

    def check(i):
        found = problems()
        if not found:
            real["print"](f"course-integrity-ok {nonce} {i}")
            return
        real["print"](f"course-integrity-tampered {nonce} {i}")
        for line in found[:40]:
            real["print"](f"  - {line}")

    holder = types.ModuleType(f"_course_integrity_{nonce}")
    holder.check = check
    sys.modules[holder.__name__] = holder
    real["print"](f"course-integrity-ok {nonce} 0")
