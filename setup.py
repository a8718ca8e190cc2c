"""Build the compiled reactor ``execo._reactor`` (Cython + src_c/).

``EXECO_DEBUG_BUILD=1`` builds it for debugging instead (``tests/debug.sh``
does, in a copy of the tree): Cython's run-time checks on (bounds, negative
indexes, uninitialized memoryviews, None), no optimization, debug symbols,
AddressSanitizer and UndefinedBehaviorSanitizer (any undefined behaviour
aborts). Such a module only loads with the ASan runtime preloaded
(``LD_PRELOAD``); never ship it.
"""

import os

from Cython.Build import cythonize
from setuptools import Extension, setup

debug = os.environ.get("EXECO_DEBUG_BUILD", "") not in ("", "0")

directives = {"boundscheck": False, "wraparound": False}
compile_args = ["-O2", "-Wall", "-Wno-unused-function"]
link_args = []
if debug:
    directives = {"boundscheck": True, "wraparound": True, "initializedcheck": True, "nonecheck": True}
    sanitizers = ["-fsanitize=address,undefined", "-fno-sanitize-recover=undefined", "-fno-omit-frame-pointer"]
    # -fno-wrapv: Python's CFLAGS make signed overflow defined, hiding it from UBSan
    compile_args = ["-O0", "-g", "-fno-wrapv", "-Wall", "-Wno-unused-function"] + sanitizers
    link_args = sanitizers

reactor = Extension(
    "execo._reactor",
    sources=["execo/_reactor.pyx", "src_c/exo_spawn.c", "src_c/exo_buf.c"],
    include_dirs=["src_c"],
    define_macros=[("_GNU_SOURCE", None)],
    extra_compile_args=compile_args,
    extra_link_args=link_args,
)

setup(
    ext_modules=cythonize(
        [reactor],
        language_level=3,
        compiler_directives=directives,
        # the directives are not in the .c's timestamp: regenerate it
        force=debug,
    ),
)
