"""Kernel-side neutralising, injected with helpers.teach.kernel_probe as one cell's source; never imported.

``_CourseRestore`` records the kernel's hooks as objects (``capture``) and makes the kernel match
such a record again (``apply``). Before each graded test the probe captures the learner's state and
applies the clean one recorded before any learner code ran; after the test it applies the learner's
state again. So an honest hook (autoreload, matplotlib's callbacks, a warning filter) keeps working
in the learner's own cells and costs nothing, and a cheat's hook is not there while a test runs.
Everything runs in the learner's namespace: it keeps its own references and looks nothing up globally.
"""


class _CourseRestore:
    """Capture the kernel's hooks as objects, and put a captured state back."""

    BUILTIN_TYPES = ("object", "type", "int", "float", "complex", "bool", "str", "bytes", "list", "tuple", "dict")

    def lists(self):
        """The hook lists: (owner, attribute) for each list of transformers, and the event callback lists."""
        ip = self.ip
        manager = ip.input_transformer_manager
        owners = [(manager, "cleanup_transforms"), (manager, "line_transforms"), (manager, "token_transformers")]
        owners += [(ip, "input_transformers_post"), (ip, "ast_transformers")]
        owners += [(ip.events.callbacks, k) for k in self.real["list"](ip.events.callbacks)]
        return owners

    def typed(self):
        """The classes whose members the tests rely on: the loaded classes and the builtin types."""
        r, b = self.real, self.m["builtins"]
        found = [c for c in self.loaded.values() if r["isinstance"](c, r["type"])]
        return found + [r["getattr"](b, n) for n in self.BUILTIN_TYPES]

    def capture(self):
        """The kernel's hooks now, as objects (not identities), for apply()."""
        r, m, ip = self.real, self.m, self.ip
        get = lambda owner, key: owner[key] if r["isinstance"](owner, r["dict"]) else r["getattr"](owner, key)
        watched = self.watched()
        return {
            "instances": [
                (o, r["dict"]((k, v) for k, v in r["list"](r["vars"](o).items()) if self.hookable(o, k, v)))
                for o in watched
            ],
            "manager": ip.input_transformer_manager,
            "lists": [(owner, key, get(owner, key), r["list"](get(owner, key))) for owner, key in self.lists()],
            "custom": (ip.custom_exceptions, r["getattr"](ip, "CustomTB", None)),
            "hooks": (m["sys"].excepthook, m["sys"].displayhook),
            "builtins": r["dict"](m["builtins"].__dict__),
            "classes": [
                (c, r["dict"](c.__dict__)) for o in watched for c in r["type"](o).__mro__ if c is not r["object"]
            ]
            + [(c, r["dict"](c.__dict__)) for c in self.typed()],
            "names": [(self.parent(n), n.rsplit(".", 1)[-1], o) for n, o in r["list"](self.loaded.items()) if "." in n],
            "modules": [(n, o) for n, o in r["list"](self.loaded.items()) if r["isinstance"](o, m["types"].ModuleType)],
        }

    def hookable(self, obj, key, value):
        """Whether obj.key is a hook this restores: a callable or a shell part (for the shell, only its known hooks)."""
        if not (self.real["callable"](value) or key in self.SHELL_PARTS):
            return False
        return obj is not self.ip or key in self.SHELL_METHODS or key in self.SHELL_PARTS or not key.startswith("_")

    def parent(self, dotted):
        try:
            return self.resolve(dotted.rsplit(".", 1)[0])
        except Exception:
            return None

    def put(self, owner, key, value, missing=False):
        """Set (or, when missing, remove) a class's member unless it already is so, builtin types included."""
        r, d = self.real, owner.__dict__
        if (key not in d) if missing else (key in d and self.ident(d[key]) == self.ident(value)):
            return
        try:
            r["delattr"](owner, key) if missing else r["setattr"](owner, key, value)
        except (TypeError, AttributeError):  # a builtin type: write its dict, then drop the method cache
            real = self.m["gc"].get_referents(d)[0]
            real.pop(key, None) if missing else real.__setitem__(key, value)
            ctypes = self.m["ctypes"]
            ctypes.pythonapi.PyType_Modified(ctypes.py_object(owner))

    def apply(self, state):
        """Make the kernel's hooks what ``state`` recorded (problems() reports what differed)."""
        r, ip = self.real, self.ip
        for obj, members in state["instances"]:
            own = r["vars"](obj)
            for key in [k for k, v in r["list"](own.items()) if k not in members and self.hookable(obj, k, v)]:
                if r["callable"](r["getattr"](r["type"](obj), key, None)):
                    r["delattr"](obj, key)
            for key, value in members.items():
                if key not in own or self.ident(own[key]) != self.ident(value):
                    r["setattr"](obj, key, value)
        if ip.input_transformer_manager is not state["manager"]:
            ip.input_transformer_manager = state["manager"]
        for owner, key, lst, items in state["lists"]:
            if r["isinstance"](owner, r["dict"]):
                owner[key] = lst
            elif r["getattr"](owner, key) is not lst:
                r["setattr"](owner, key, lst)
            if r["list"](lst) != items:
                lst[:] = items
        if (ip.custom_exceptions, r["getattr"](ip, "CustomTB", None)) != state["custom"]:
            ip.custom_exceptions, ip.CustomTB = state["custom"]
        self.apply_interpreter(state)

    def apply_interpreter(self, state):
        """The interpreter's part of apply(): tracing, sys hooks, builtins, classes, the names the tests use."""
        r, m, sys = self.real, self.m, self.m["sys"]
        if state is self.clean:
            sys.settrace(None), sys.setprofile(None), m["threading"].settrace(None), m["threading"].setprofile(None)
        sys.excepthook, sys.displayhook = state["hooks"]
        b = m["builtins"].__dict__
        for key, value in state["builtins"].items():
            if b.get(key, self) is not value:
                b[key] = value
        for cls, members in state["classes"]:
            for key in [k for k, v in r["list"](cls.__dict__.items()) if k not in members and r["callable"](v)]:
                self.put(cls, key, None, missing=True)  # a method patched in (data a class caches later stays)
            for key, value in members.items():
                self.put(cls, key, value)
        for owner, key, value in state["names"]:
            if owner is None or self.ident(r["getattr"](owner, key, None)) == self.ident(value):
                continue
            self.put(owner, key, value) if r["isinstance"](owner, r["type"]) else r["setattr"](owner, key, value)
        for name, module in state["modules"]:
            if sys.modules.get(name) is not module:
                sys.modules[name] = module

    def hide(self, names):
        """Take the learner's globals that shadow the builtins ``names`` out of the namespace; return them."""
        ns, b = self.ip.user_ns, self.m["builtins"].__dict__
        hidden = {n: ns[n] for n in names if n in ns and ns[n] is not b.get(n, self)}
        for n in hidden:
            del ns[n]
        return hidden
