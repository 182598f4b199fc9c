/* fuzz._fast_trace: a direct path from instrumented Python code to Atheris'
 * coverage and comparison tracing.
 *
 * Atheris rewrites every basic block of an instrumented module to call
 * `atheris._trace_branch(counter_index)`, and every comparison to call
 * `atheris._trace_cmp(left, right, opid, counter_index, left_is_const)`.
 * Both names are pybind11 functions: each call builds argument vectors on the
 * heap, and under the ASan preload every one of those mallocs and frees
 * records a stack trace. Measured here (ops target, ASan build) the dispatch
 * cost about a third of each execution.
 *
 * `trace_branch` and `trace_cmp` do the same things without the dispatcher:
 * they call the C++ functions the loaded Atheris core module
 * (core_with_libfuzzer or core_without_libfuzzer) exports and that Atheris'
 * own wrappers call:
 *   atheris::_trace_branch(unsigned long index)      bumps counters[index % max]
 *   atheris::TraceCompareOp(void *pc, PyObject *left, PyObject *right,
 *                           int opid, bool left_is_const)
 *       reports the operands to libFuzzer (pc = the counter index) and returns
 *       PyObject_RichCompare(left, right, opid): a new reference, or NULL
 *       with the exception set.
 * `bind(path)` finds both in the already loaded core (RTLD_NOLOAD: nothing new
 * is loaded) and fails with a clear error when one is absent (another Atheris
 * release), in which case the harness keeps Atheris' own functions.
 *
 * Built by fuzz/build.py into each build directory with -O2 and no
 * sanitizer or coverage instrumentation: it is part of the fuzzer, not of
 * the code under test.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <dlfcn.h>

#include <stdbool.h>

#define BRANCH_SYMBOL "_ZN7atheris13_trace_branchEm"   /* atheris::_trace_branch(unsigned long) */
/* atheris::TraceCompareOp(void*, PyObject*, PyObject*, int, bool) */
#define COMPARE_SYMBOL "_ZN7atheris14TraceCompareOpEPvP7_objectS2_ib"

typedef void (*branch_fn)(unsigned long);
typedef PyObject *(*compare_fn)(void *, PyObject *, PyObject *, int, bool);
static branch_fn core_branch;
static compare_fn core_compare;

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

/* trace_cmp(left, right, opid, counter_index, left_is_const) -> left <opid> right */
static PyObject *trace_cmp(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    (void)self;
    if (nargs != 5) {
        PyErr_Format(PyExc_TypeError, "trace_cmp() takes 5 arguments (%zd given)", nargs);
        return NULL;
    }
    long opid = PyLong_AsLong(args[2]);
    if (opid == -1 && PyErr_Occurred())
        return NULL;
    if (opid < Py_LT || opid > Py_GE) {
        PyErr_Format(PyExc_ValueError, "trace_cmp(): comparison operator %ld out of range", opid);
        return NULL;
    }
    unsigned long index = PyLong_AsUnsignedLong(args[3]);
    if (index == (unsigned long)-1 && PyErr_Occurred())
        return NULL;
    int left_is_const = PyObject_IsTrue(args[4]);
    if (left_is_const < 0)
        return NULL;
    if (core_compare == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "fuzz._fast_trace: bind() was not called");
        return NULL;
    }
    return core_compare((void *)(uintptr_t)index, args[0], args[1], (int)opid, left_is_const != 0);
}

/* Probe: one per instrumented basic block, in its code object's constants.
 * `+probe` (UNARY_POSITIVE) bumps the probe's counter and yields the probe,
 * which the instrumented code pops: three bytecodes and one C slot call per
 * block, where Atheris' own sequence takes seven bytecodes and a vectorcall
 * with an int argument to convert (fuzz/fast_trace.py: install_probes).
 * Until bind() succeeds a probe calls `atheris._trace_branch(index)` as
 * Atheris' own code would: coverage never depends on the binding. */
typedef struct {
    PyObject_HEAD
    unsigned long index;
} ProbeObject;

static PyObject *fallback_module;   /* atheris: its _trace_branch, looked up per call */

static PyObject *probe_positive(PyObject *self)
{
    unsigned long index = ((ProbeObject *)self)->index;
    if (core_branch != NULL) {
        core_branch(index);
    } else {
        if (fallback_module == NULL) {
            PyErr_SetString(PyExc_RuntimeError, "fuzz._fast_trace: a probe ran before use_atheris()");
            return NULL;
        }
        PyObject *result = PyObject_CallMethod(fallback_module, "_trace_branch", "k", index);
        if (result == NULL)
            return NULL;
        Py_DECREF(result);
    }
    return Py_NewRef(self);
}

static PyObject *probe_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    PyObject *number;
    static char *keywords[] = {"index", NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O!:Probe", keywords, &PyLong_Type, &number))
        return NULL;
    unsigned long index = PyLong_AsUnsignedLong(number);
    if (index == (unsigned long)-1 && PyErr_Occurred())
        return NULL;
    ProbeObject *probe = (ProbeObject *)type->tp_alloc(type, 0);
    if (probe != NULL)
        probe->index = index;
    return (PyObject *)probe;
}

static PyObject *probe_repr(PyObject *self)
{
    return PyUnicode_FromFormat("<branch probe %lu>", ((ProbeObject *)self)->index);
}

static PyObject *probe_get_index(PyObject *self, void *closure)
{
    (void)closure;
    return PyLong_FromUnsignedLong(((ProbeObject *)self)->index);
}

static PyGetSetDef probe_getset[] = {
    {"index", probe_get_index, NULL, "The Atheris counter this probe bumps.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyNumberMethods probe_as_number = {
    .nb_positive = probe_positive,
};

static PyTypeObject ProbeType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "_fast_trace.Probe",
    .tp_basicsize = sizeof(ProbeObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Probe(index): +probe bumps Atheris counter `index` (a basic block's).",
    .tp_new = probe_new,
    .tp_repr = probe_repr,
    .tp_as_number = &probe_as_number,
    .tp_getset = probe_getset,
};

static PyObject *use_atheris(PyObject *self, PyObject *module)
{
    (void)self;
    Py_XSETREF(fallback_module, Py_NewRef(module));
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
    branch_fn branch = (branch_fn)dlsym(handle, BRANCH_SYMBOL);
    compare_fn compare = (compare_fn)dlsym(handle, COMPARE_SYMBOL);
    dlclose(handle);   /* drops only our reference: the module stays loaded */
    if (branch == NULL || compare == NULL) {
        PyErr_Format(PyExc_LookupError, "fuzz._fast_trace: %s does not export %s", path,
                     branch == NULL ? BRANCH_SYMBOL : COMPARE_SYMBOL);
        Py_DECREF(encoded);
        return NULL;
    }
    Py_DECREF(encoded);
    core_branch = branch;
    core_compare = compare;
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"trace_branch", trace_branch, METH_O, "Bump the Atheris counter with this index."},
    {"trace_cmp", (PyCFunction)(void (*)(void))trace_cmp, METH_FASTCALL,
     "Report a comparison to libFuzzer and return its result."},
    {"bind", bind, METH_O, "Bind trace_branch to the Atheris core module loaded from this path."},
    {"use_atheris", use_atheris, METH_O,
     "The atheris module whose _trace_branch an unbound probe calls."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    .m_base = PyModuleDef_HEAD_INIT,
    .m_name = "_fast_trace",
    .m_doc = "A direct path from instrumented Python code to Atheris' tracing.",
    .m_size = -1,
    .m_methods = methods,
};

PyMODINIT_FUNC PyInit__fast_trace(void)
{
    if (PyType_Ready(&ProbeType) < 0)
        return NULL;
    PyObject *m = PyModule_Create(&module);
    if (m == NULL)
        return NULL;
    if (PyModule_AddObjectRef(m, "Probe", (PyObject *)&ProbeType) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
