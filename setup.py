"""Build the compiled reactor ``execo._reactor`` (Cython + src_c/)."""

from Cython.Build import cythonize
from setuptools import Extension, setup

reactor = Extension(
    "execo._reactor",
    sources=["execo/_reactor.pyx", "src_c/exo_spawn.c", "src_c/exo_buf.c"],
    include_dirs=["src_c"],
    define_macros=[("_GNU_SOURCE", None)],
    extra_compile_args=["-O2", "-Wall", "-Wno-unused-function"],
)

setup(
    ext_modules=cythonize(
        [reactor],
        language_level=3,
        compiler_directives={"boundscheck": False, "wraparound": False},
    ),
)
