/* fuzz._fast_trace: a direct path from instrumented Python code to Atheris'
 * branch counters.
 *
 * Atheris rewrites every basic block of an instrumented module to call
 * `atheris._trace_branch(counter_index)`. That name is a pybind11 function:
 * each call builds argument vectors on the heap, and under the ASan preload
 * every one of those mallocs and frees records a stack trace. Measured here
 * (ops target, ASan build) the dispatch cost about a third of each execution.
 *
 * `trace_branch` does the same thing without the dispatcher: it calls the
 * C++ function `atheris::_trace_branch(unsigned long)` that the loaded Atheris
 * core module (core_with_libfuzzer or core_without_libfuzzer) exports, which
 * bumps `counters[index % max_counters]`. `bind(path)` finds that function
 * in the already loaded core (RTLD_NOLOAD: nothing new is loaded) and fails
 * with a clear error when the symbol is absent (another Atheris version), in
 * which case the harness keeps Atheris' own function.
 *
 * Built by fuzz/build.py into each build directory with -O2 and no
 * sanitizer or coverage instrumentation: it is part of the fuzzer, not of
 * the code under test.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <dlfcn.h>

#define BRANCH_SYMBOL "_ZN7atheris13_trace_branchEm"   /* atheris::_trace_branch(unsigned long) */

typedef void (*branch_fn)(unsigned long);
static branch_fn core_branch;

static PyObject *trace_branch(PyObject *self, PyObject *arg)
{
    (void)self;
    unsigned long index = PyLong_AsUnsignedLong(arg);
    if (index == (unsigned long)-1 && PyErr_Occurred())
        return NULL;
    if (core_branch == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "fuzz._fast_trace: bind() was not called");
        return NULL;
    }
    core_branch(index);
    Py_RETURN_NONE;
}

static PyObject *bind(PyObject *self, PyObject *arg)
{
    (void)self;
    PyObject *encoded = NULL;
    if (!PyUnicode_FSConverter(arg, &encoded))
        return NULL;
    const char *path = PyBytes_AS_STRING(encoded);
    void *handle = dlopen(path, RTLD_NOW | RTLD_NOLOAD);
    if (handle == NULL) {
        /* RTLD_NOLOAD on a library that is not loaded fails without a dlerror() text. */
        const char *why = dlerror();
        PyErr_Format(PyExc_OSError, "fuzz._fast_trace: %s is not loaded%s%s%s", path,
                     why ? " (" : "", why ? why : "", why ? ")" : "");
        Py_DECREF(encoded);
        return NULL;
    }
    branch_fn fn = (branch_fn)dlsym(handle, BRANCH_SYMBOL);
    dlclose(handle);   /* drops only our reference: the module stays loaded */
    if (fn == NULL) {
        PyErr_Format(PyExc_LookupError, "fuzz._fast_trace: %s does not export %s", path,
                     BRANCH_SYMBOL);
        Py_DECREF(encoded);
        return NULL;
    }
    Py_DECREF(encoded);
    core_branch = fn;
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"trace_branch", trace_branch, METH_O, "Bump the Atheris counter with this index."},
    {"bind", bind, METH_O, "Bind trace_branch to the Atheris core module loaded from this path."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    .m_base = PyModuleDef_HEAD_INIT,
    .m_name = "_fast_trace",
    .m_doc = "A direct path from instrumented Python code to Atheris' branch counters.",
    .m_size = -1,
    .m_methods = methods,
};

PyMODINIT_FUNC PyInit__fast_trace(void)
{
    return PyModule_Create(&module);
}
