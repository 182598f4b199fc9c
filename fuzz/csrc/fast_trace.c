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
 * `trace_branch` does what the loaded Atheris core module's (core_with_libfuzzer
 * or core_without_libfuzzer) atheris::_trace_branch(unsigned long index) does,
 * which Atheris' own wrapper calls: once the core has allocated its counters,
 *   atheris::counters[(int)index % atheris::max_counters]++
 * Here on the core's exported variables directly, without the call and,
 * for an index below max_counters (every one unless a program has more
 * blocks than counters), without the integer division: one per basic block
 * run. Where the core does not export them, through its function. A probe
 * (below) finds its counter once and keeps a pointer to it.
 * `trace_cmp` reports a comparison to libFuzzer as Atheris 3.0's
 * atheris::TraceCompareOp does (src/native/tracer.cc), through the same
 * libFuzzer entry points, and returns PyObject_RichCompare(left, right, opid):
 *   two ints that fit in 64 bits   __sanitizer_cov_trace_const_cmp8 when the
 *                                  left one is the code's constant, else
 *                                  __sanitizer_cov_trace_cmp8
 *   two bytes, two str             __sanitizer_cov_trace_cmp8 of the lengths
 *                                  (str: of the UTF-8 forms), and when they
 *                                  are equal __sanitizer_weak_hook_memcmp of
 *                                  the contents, pc = the counter index
 * Atheris turns each str into a new bytes object first (two allocations per
 * comparison, plus pybind11's own); here an ASCII str, most of them, is read
 * in place, and only others are encoded (with "surrogatepass" for lone
 * surrogates, as Atheris does). With libFuzzer's default flags what it
 * receives is the same: it ignores the caller's pc of a cmp8 unless
 * -use_value_profile=1, and then each version passes one pc for them all.
 *
 * `bind(path)` finds the branch function in the already loaded core
 * (RTLD_NOLOAD: nothing new is loaded) and the libFuzzer entry points in the
 * core (core_with_libfuzzer brings its own) or else in the process (our
 * preload), and fails with a clear error when one is absent (another Atheris
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
#include <stdint.h>

#define BRANCH_SYMBOL "_ZN7atheris13_trace_branchEm"   /* atheris::_trace_branch(unsigned long) */
#define COUNTERS_SYMBOL "_ZN7atheris8countersE"         /* unsigned char *atheris::counters */
#define PCTABLE_SYMBOL "_ZN7atheris7pctableE"           /* PCTableEntry *atheris::pctable */
#define MAX_COUNTERS_SYMBOL "_ZN7atheris12max_countersE" /* int atheris::max_counters */

typedef void (*branch_fn)(unsigned long);
typedef void (*cmp8_fn)(uint64_t, uint64_t);
typedef void (*memcmp_hook_fn)(void *, const void *, const void *, size_t, int);
static branch_fn core_branch;
static unsigned char *const *core_counters;    /* NULL: bump through core_branch */
static void *const *core_pctable;
static const int *core_max_counters;
static cmp8_fn trace_cmp8, trace_const_cmp8;
static memcmp_hook_fn memcmp_hook;

/* Each bind() starts a generation: a probe's cached counter (below) is valid
 * only in the generation that cached it. */
static unsigned long bind_generation;

/* The counter atheris::IncrementCounter(int) bumps for `index`, on the core's
 * own variables (see the top); NULL while the core has none allocated, or
 * when its variables are not exported (then call bump()). Atheris allocates
 * its counters once and never moves them. */
static unsigned char *counter_of(unsigned long index)
{
    if (core_counters == NULL)
        return NULL;
    unsigned char *counters = *core_counters;
    int max = *core_max_counters;
    int i = (int)index;
    if (counters == NULL || *core_pctable == NULL || max < 1 || i < 0)
        return NULL;
    return &counters[i < max ? i : i % max];
}

/* Bumps the counter of `index`; returns it, or NULL when it went through
 * the core's function (or there was none allocated to bump yet, which
 * Atheris' function ignores too). */
static unsigned char *bump(unsigned long index)
{
    unsigned char *counter = counter_of(index);
    if (counter != NULL)
        ++*counter;
    else if (core_counters == NULL)
        core_branch(index);
    return counter;
}

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
    bump(index);
    Py_RETURN_NONE;
}

/* Not memcmp(): the ASan preload intercepts it and would report the
 * comparison to libFuzzer a second time. Only zero or not matters to it. */
static int plain_memcmp(const char *a, const char *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (a[i] != b[i])
            return (int)(signed char)a[i] - (int)(signed char)b[i];
    return 0;
}

static void report_contents(void *pc, const char *a, Py_ssize_t na, const char *b, Py_ssize_t nb)
{
    trace_cmp8((uint64_t)na, (uint64_t)nb);
    if (na == nb)
        memcmp_hook(pc, a, b, (size_t)na, plain_memcmp(a, b, (size_t)na));
}

/* The UTF-8 form of a str: in place when ASCII, else a new bytes in *owner.
 * NULL (no error set) when it has none. */
static const char *utf8_of(PyObject *s, Py_ssize_t *size, PyObject **owner)
{
    if (PyUnicode_IS_COMPACT_ASCII(s)) {
        *size = PyUnicode_GET_LENGTH(s);
        return (const char *)PyUnicode_DATA(s);
    }
    *owner = PyUnicode_AsUTF8String(s);
    if (*owner == NULL) {
        PyErr_Clear();
        *owner = PyUnicode_AsEncodedString(s, "utf-8", "surrogatepass");
        if (*owner == NULL) {
            PyErr_Clear();
            return NULL;
        }
    }
    *size = PyBytes_GET_SIZE(*owner);
    return PyBytes_AS_STRING(*owner);
}

static bool as_int64(PyObject *n, long long *out)
{
    int overflow = 0;
    *out = PyLong_AsLongLongAndOverflow(n, &overflow);
    if (*out == -1 && PyErr_Occurred()) {
        PyErr_Clear();
        return false;
    }
    return !overflow;
}

/* What Atheris' TraceCompareOp reports before it compares (see the top). */
static void report_compare(void *pc, PyObject *left, PyObject *right, bool left_is_const)
{
    if (PyLong_Check(left) && PyLong_Check(right)) {
        long long a, b;
        if (as_int64(left, &a) && as_int64(right, &b))
            (left_is_const ? trace_const_cmp8 : trace_cmp8)((uint64_t)a, (uint64_t)b);
    } else if (PyBytes_Check(left) && PyBytes_Check(right)) {
        report_contents(pc, PyBytes_AS_STRING(left), PyBytes_GET_SIZE(left),
                        PyBytes_AS_STRING(right), PyBytes_GET_SIZE(right));
    } else if (PyUnicode_Check(left) && PyUnicode_Check(right)) {
        PyObject *left_owner = NULL, *right_owner = NULL;
        Py_ssize_t na, nb;
        const char *a = utf8_of(left, &na, &left_owner);
        const char *b = a ? utf8_of(right, &nb, &right_owner) : NULL;
        if (a && b)
            report_contents(pc, a, na, b, nb);
        Py_XDECREF(left_owner);
        Py_XDECREF(right_owner);
    }
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
    if (memcmp_hook == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "fuzz._fast_trace: bind() was not called");
        return NULL;
    }
    report_compare((void *)(uintptr_t)index, args[0], args[1], left_is_const != 0);
    return PyObject_RichCompare(args[0], args[1], (int)opid);
}

/* Probe: one per instrumented basic block, in its code object's constants.
 * The instrumented code truth-tests it (`LOAD_CONST probe;
 * POP_JUMP_FORWARD_IF_FALSE +0`): the test bumps the probe's counter and
 * is always true, so the jump, whose target is the next instruction anyway,
 * is never taken. Two bytecodes and one C slot call per block, where
 * Atheris' own sequence takes seven bytecodes and a vectorcall with an int
 * argument to convert (fuzz/fast_trace.py: install_probes).
 * Until bind() succeeds a probe calls `atheris._trace_branch(index)` as
 * Atheris' own code would: coverage never depends on the binding. */
typedef struct {
    PyObject_HEAD
    unsigned long index;
    unsigned char *counter;     /* counter_of(index), valid in generation `generation` */
    unsigned long generation;   /* (unsigned long)-1: nothing cached */
} ProbeObject;

static PyObject *fallback_module;   /* atheris: its _trace_branch, looked up per call */

static int probe_bool(PyObject *self)
{
    ProbeObject *probe = (ProbeObject *)self;
    if (probe->generation == bind_generation) {     /* the common case: a few instructions */
        ++*probe->counter;
        return 1;
    }
    unsigned long index = probe->index;
    if (core_branch != NULL) {
        unsigned char *counter = bump(index);
        if (counter != NULL) {
            probe->counter = counter;
            probe->generation = bind_generation;
        }
        return 1;
    }
    if (fallback_module == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "fuzz._fast_trace: a probe ran before use_atheris()");
        return -1;
    }
    PyObject *result = PyObject_CallMethod(fallback_module, "_trace_branch", "k", index);
    if (result == NULL)
        return -1;
    Py_DECREF(result);
    return 1;
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
    if (probe != NULL) {
        probe->index = index;
        probe->generation = (unsigned long)-1;
    }
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
    .nb_bool = probe_bool,
};

static PyTypeObject ProbeType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "_fast_trace.Probe",
    .tp_basicsize = sizeof(ProbeObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Probe(index): bool(probe) bumps Atheris counter `index` (a basic block's) and is True.",
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

/* A libFuzzer entry point: the core's own (core_with_libfuzzer), else the process' (our preload). */
static void *libfuzzer_symbol(void *core, const char *name)
{
    void *sym = dlsym(core, name);
    return sym != NULL ? sym : dlsym(RTLD_DEFAULT, name);
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
    static const char *const names[] = {
        BRANCH_SYMBOL, "__sanitizer_cov_trace_cmp8", "__sanitizer_cov_trace_const_cmp8",
        "__sanitizer_weak_hook_memcmp",
    };
    void *found[4];
    const char *missing = NULL;
    found[0] = dlsym(handle, names[0]);
    for (int i = 1; i < 4; i++)
        found[i] = libfuzzer_symbol(handle, names[i]);
    for (int i = 0; i < 4 && missing == NULL; i++)
        if (found[i] == NULL)
            missing = names[i];
    /* The counter variables are optional: without all three, the function. */
    void *counters = dlsym(handle, COUNTERS_SYMBOL), *pctable = dlsym(handle, PCTABLE_SYMBOL);
    void *max_counters = dlsym(handle, MAX_COUNTERS_SYMBOL);
    bool direct = counters != NULL && pctable != NULL && max_counters != NULL;
    dlclose(handle);   /* drops only our reference: the module stays loaded */
    if (missing != NULL) {
        PyErr_Format(PyExc_LookupError, missing == names[0] ? "fuzz._fast_trace: %s does not export %s"
                     : "fuzz._fast_trace: neither %s nor the process exports %s", path, missing);
        Py_DECREF(encoded);
        return NULL;
    }
    Py_DECREF(encoded);
    bind_generation++;      /* counters cached by probes belonged to the previous binding */
    core_counters = direct ? (unsigned char *const *)counters : NULL;
    core_pctable = direct ? (void *const *)pctable : NULL;
    core_max_counters = direct ? (const int *)max_counters : NULL;
    core_branch = (branch_fn)found[0];
    trace_cmp8 = (cmp8_fn)found[1];
    trace_const_cmp8 = (cmp8_fn)found[2];
    memcmp_hook = (memcmp_hook_fn)found[3];
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"trace_branch", trace_branch, METH_O, "Bump the Atheris counter with this index."},
    {"trace_cmp", (PyCFunction)(void (*)(void))trace_cmp, METH_FASTCALL,
     "Report a comparison to libFuzzer and return its result."},
    {"bind", bind, METH_O, "Bind the tracer to the Atheris core module loaded from this path (and to libFuzzer)."},
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
