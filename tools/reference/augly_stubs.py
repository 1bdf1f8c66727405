"""Lets augly 1.0.0 be imported without its dependency tree (``pip install augly==1.0.0 --no-deps``).

augly imports ``magic`` (python-magic, for file-type checks of paths) and ``iopath`` (its path manager, for
reading and writing files) at import time. The fixture scripts only pass PIL images, so empty stand-ins are
enough; call ``install()`` before ``import augly``.
"""
import sys
import types


def install():
    def stub(name, **attrs):
        module = types.ModuleType(name)
        module.__dict__.update(attrs)
        sys.modules.setdefault(name, module)

    class PathManagerStub:
        def __getattr__(self, _name):
            return lambda *a, **k: None

        def get_local_path(self, path, **_k):
            return path

    stub("magic")
    stub("iopath")
    stub("iopath.common")
    stub("iopath.common.file_io", HTTPURLHandler=object, PathManager=PathManagerStub)
