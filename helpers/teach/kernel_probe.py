"""Kernel-side integrity probe. Its source (after helpers.teach.kernel_restore's) is injected as a cell; never imported.

``_course_probe_install(nonce, names)`` runs first, before any learner code: it records the
kernel's clean state (IPython's transformers, hooks and methods, the tracing hooks, builtins,
the builtin types, and ``names``: the modules, functions and classes the tests use) and keeps
its own references to the functions it needs, so later patches to builtins cannot blind it.
The injected cell runs in the learner's namespace, so the probe keeps everything on its
instance and looks nothing up globally.

Around each graded test the grader injects two calls. ``before(i, names)`` sets the learner's
hooks aside, puts the clean state back and hides the learner's globals that shadow the builtins
``names`` the test uses; it prints ``course-integrity-ok NONCE i`` and a ``~`` line for each
kind of hook it set aside (a note for the teacher, not evidence). ``after(i)`` looks for hooks
that came back while the test ran (evidence: ``course-integrity-tampered NONCE i`` and a ``-``
line per change), then gives the learner's hooks and names back. The grader reads those lines.
"""


class _CourseProbe(_CourseRestore):  # noqa: F821 (kernel_restore.py's source comes first in the cell)
    """The snapshot of a fresh kernel, and the comparison of the running kernel against it."""

    SHELL_METHODS = (
        "run_cell",
        "run_cell_async",
        "_run_cell",
        "run_ast_nodes",
        "run_code",
        "transform_cell",
        "transform_ast",
        "should_run_async",
        "showtraceback",
        "_showtraceback",
        "showsyntaxerror",
        "get_exception_only",
        "set_custom_exc",
        "ex",
        "ev",
        "run_line_magic",
        "run_cell_magic",
    )
    SHELL_PARTS = (
        "compile",
        "events",
        "input_transformer_manager",
        "displayhook",
        "display_pub",
        "kernel",
        "InteractiveTB",
        "SyntaxTB",
        "builtin_trap",
        "display_trap",
        "session",
        "iopub_socket",
    )
    # The display hook keeps the last three results in _, __ and ___: a cell ending in a model or a function
    # (`model.eval()`) puts a callable there, which is output, not a replaced method.
    OUTPUT_CACHE = ("_", "__", "___")
    ALLOWED_CALLBACK_PACKAGES = ("IPython", "ipykernel", "matplotlib_inline", "matplotlib", "ipywidgets", "comm")

    def __init__(self, nonce, names, ip, modules):
        self.nonce, self.ip, self.m = nonce, ip, modules  # m: builtins, sys, threading, types, importlib
        b = modules["builtins"]
        self.real = {
            n: getattr(b, n)
            for n in (
                "id",
                "getattr",
                "isinstance",
                "vars",
                "type",
                "print",
                "sorted",
                "list",
                "repr",
                "callable",
                "set",
                "object",
                "dict",
                "setattr",
                "delattr",
            )
        }
        self.loaded = {}
        for name in names:
            try:
                self.loaded[name] = self.resolve(name)
            except Exception:  # a name the tests create later, or a module missing here: nothing to watch
                pass
        self.state, self.clean = self.snapshot(), self.capture()
        self.saved, self.hidden = None, {}

    def ident(self, value):
        """Identity of a value; a bound method counts as its object and function (IPython rebinds some per cell)."""
        r, torch = self.real, self.m["sys"].modules.get("torch")
        # torch wraps some functions lazily (torch.manual_seed when torch._dynamo loads, an optimizer's step when
        # the first one is built): see through wrappers whose code lives inside torch itself.
        torch_dir = torch.__file__.rsplit("/", 1)[0] + "/" if torch is not None else None
        while (
            torch_dir
            and r["getattr"](r["getattr"](value, "__code__", None), "co_filename", "").startswith(torch_dir)
            and r["getattr"](value, "__wrapped__", None) is not None
        ):
            value = value.__wrapped__
        if r["isinstance"](value, self.m["types"].MethodType):
            return (r["id"](value.__self__), r["id"](value.__func__))
        return r["id"](value)

    def resolve(self, dotted):
        """The object a dotted name such as "torch.testing.assert_close" names, importing what it needs."""
        parts = dotted.split(".")
        for cut in range(len(parts), 0, -1):
            try:
                obj = self.m["importlib"].import_module(".".join(parts[:cut]))
            except Exception:
                continue
            for attr in parts[cut:]:
                obj = self.real["getattr"](obj, attr)
            return obj
        raise LookupError(dotted)

    def watched(self):
        ip = self.ip
        objs = [ip, ip.compile, ip.events, ip.input_transformer_manager, ip.displayhook, ip.display_pub]
        kernel = self.real["getattr"](ip, "kernel", None)
        return objs + ([kernel, kernel.session] if kernel is not None else [])

    def class_members(self, obj):
        """Every class in obj's type's MRO, with the identities of what it defines."""
        return [
            (c, {k: self.ident(v) for k, v in self.real["list"](c.__dict__.items())})
            for c in self.real["type"](obj).__mro__
            if c is not self.real["object"]
        ]

    def instance_members(self, obj):
        """Identities of an object's own callables, and of the shell parts that must stay the same objects."""
        own, cache = self.real["vars"](obj), self.OUTPUT_CACHE if obj is self.ip.displayhook else ()
        return {
            k: self.ident(v)
            for k, v in self.real["list"](own.items())
            if (self.real["callable"](v) or k in self.SHELL_PARTS) and k not in cache
        }

    def transformer_lists(self):
        manager, lst = self.ip.input_transformer_manager, self.real["list"]
        return {
            "input_transformers_cleanup": lst(manager.cleanup_transforms),
            "input_transformer_manager.line_transforms": lst(manager.line_transforms),
            "input_transformer_manager.token_transformers": lst(manager.token_transformers),
            "input_transformers_post": lst(self.ip.input_transformers_post),
        }

    def snapshot(self):
        ip, r, m = self.ip, self.real, self.m
        return {
            "transformers": self.transformer_lists(),
            "manager": r["id"](ip.input_transformer_manager),
            "ast": r["list"](ip.ast_transformers),
            "events": {k: r["list"](v) for k, v in ip.events.callbacks.items()},
            "classes": [self.class_members(o) for o in self.watched()],
            "instances": [(o, self.instance_members(o)) for o in self.watched()],
            "builtins": {k: self.ident(v) for k, v in r["list"](m["builtins"].__dict__.items())},
            "names": {name: self.ident(obj) for name, obj in self.loaded.items()},
            "modules": {n: r["id"](o) for n, o in self.loaded.items() if r["isinstance"](o, m["types"].ModuleType)},
            "types": [(c, {k: self.ident(v) for k, v in r["list"](c.__dict__.items())}) for c in self.typed()],
            "hooks": (m["sys"].excepthook, m["sys"].displayhook),
        }

    def allowed_ast(self, transformer):
        blanks = self.m["sys"].modules.get("helpers.blanks")
        return blanks is not None and self.real["type"](transformer) is self.real["getattr"](
            blanks, "_BlankGuard", None
        )

    def allowed_callback(self, callback):
        g = self.real["getattr"]
        module = g(callback, "__module__", None) or g(g(callback, "__func__", None), "__module__", "") or ""
        return module.split(".")[0] in self.ALLOWED_CALLBACK_PACKAGES

    def shell_problems(self):
        """Changes to IPython's transformers, event callbacks and exception handlers."""
        found, state, rep = [], self.state, self.real["repr"]
        for name, items in self.transformer_lists().items():
            if items != state["transformers"][name]:
                added = [rep(t) for t in items if t not in state["transformers"][name]]
                found.append(f"IPython's {name} changed (added: {', '.join(added) or 'none'})")
        if self.real["id"](self.ip.input_transformer_manager) != state["manager"]:
            found.append("IPython's input_transformer_manager was replaced")
        extra = [t for t in self.ip.ast_transformers if t not in state["ast"] and not self.allowed_ast(t)]
        if extra or any(t not in self.ip.ast_transformers for t in state["ast"]):
            found.append(f"IPython's ast_transformers changed (added: {', '.join(rep(t) for t in extra) or 'none'})")
        for event, callbacks in self.ip.events.callbacks.items():
            new = [c for c in callbacks if c not in state["events"].get(event, []) and not self.allowed_callback(c)]
            if new:
                found.append(f"IPython event callbacks registered for {event}: {', '.join(rep(c) for c in new)}")
        if self.ip.custom_exceptions:
            found.append(f"a custom exception handler was installed for {self.ip.custom_exceptions!r}")
        return found

    def method_problems(self):
        """Methods replaced on the running shell, kernel and session objects, or patched on their classes."""
        found, ip = [], self.ip
        for obj, members in self.state["instances"]:
            for name, member in self.real["sorted"](self.instance_members(obj).items()):
                if members.get(name) != member and (
                    obj is not ip or name in self.SHELL_METHODS or name in self.SHELL_PARTS or not name.startswith("_")
                ):
                    found.append(f"{self.real['type'](obj).__name__}.{name} was replaced on the running object")
        for members_of_mro in self.state["classes"]:
            for cls, members in members_of_mro:
                for name, member in members.items():
                    if self.ident(cls.__dict__.get(name)) != member:
                        found.append(f"{cls.__module__}.{cls.__name__}.{name} was patched")
        return found

    def interpreter_problems(self):
        """Tracing hooks, replaced sys hooks, patched builtins, and patched names the tests use."""
        found, sys, state = [], self.m["sys"], self.state
        if sys.gettrace() is not None or sys.getprofile() is not None:
            found.append(f"a tracing or profiling hook is set ({sys.gettrace() or sys.getprofile()!r})")
        if self.m["threading"].gettrace() is not None or self.m["threading"].getprofile() is not None:
            found.append("a tracing or profiling hook is set for new threads")
        if (sys.excepthook, sys.displayhook) != state["hooks"]:
            found.append("sys.excepthook or sys.displayhook was replaced")
        for name, member in state["builtins"].items():
            if self.ident(self.m["builtins"].__dict__.get(name)) != member:
                found.append(f"the builtin {name} was patched or removed")
        for name, module_id in state["modules"].items():
            if self.real["id"](sys.modules.get(name)) != module_id:
                found.append(f"sys.modules[{name!r}] was replaced")
        for name, member in state["names"].items():
            try:
                now = self.ident(self.resolve(name))
            except Exception:
                now = None
            if now != member:
                found.append(f"{name} was patched")
        for cls, members in state["types"]:
            found += [
                f"{cls.__module__}.{cls.__qualname__}.{a} was patched"
                for a, member in members.items()
                if self.ident(cls.__dict__.get(a)) != member
            ]
        return found

    def problems(self):
        return self.shell_problems() + self.method_problems() + self.interpreter_problems()

    def report(self, i, evidence, notes=()):
        p = self.real["print"]
        p(f"course-integrity-{'tampered' if evidence else 'ok'} {self.nonce} {i}")
        for line in evidence[:40]:
            p(f"  - {line}")
        for line in notes[:40]:
            p(f"  ~ {line}")

    def before(self, i, names):
        """Set the learner's hooks aside and hide the globals shadowing ``names``; report what was set aside."""
        aside = self.problems()
        try:
            self.saved = self.capture()
            self.apply(self.clean)
            self.hidden = self.hide(names)
        except Exception as error:  # reported as evidence below if the kernel is still not clean
            aside.append(f"setting hooks aside failed: {self.real['type'](error).__name__}: {error}")
        self.report(i, self.problems(), aside)

    def after(self, i):
        """Report hooks and hidden names that came back while the test ran; give the learner's back."""
        ns = self.ip.user_ns
        found = self.problems() + [f"the global {n} came back while the test ran" for n in self.hidden if n in ns]
        notes = []
        try:
            if self.saved is not None:
                self.apply(self.saved)
            ns.update(self.hidden)
        except Exception as error:
            notes.append(f"giving the learner's hooks back failed: {self.real['type'](error).__name__}: {error}")
        self.saved, self.hidden = None, {}
        self.report(i, found, notes)


def _course_probe_install(nonce, names):
    """Take the snapshot; register the probe where the probe cells find it, sys.modules["_course_integrity_NONCE"]."""
    import builtins
    import ctypes
    import gc
    import importlib
    import sys
    import threading
    import types

    modules = {"builtins": builtins, "sys": sys, "threading": threading, "types": types, "importlib": importlib}
    modules.update(gc=gc, ctypes=ctypes)
    probe = _CourseProbe(nonce, names, get_ipython(), modules)  # noqa: F821 (an IPython builtin)
    holder = types.ModuleType(f"_course_integrity_{nonce}")
    holder.before, holder.after = probe.before, probe.after
    sys.modules[holder.__name__] = holder
    probe.real["print"](f"course-integrity-ok {nonce} 0")
