/* Test fixture: stands in for libFuzzer's entry points that comparison
 * tracing calls, and writes each call into a text log that Python reads
 * (recorded()). Loaded with RTLD_GLOBAL, it also satisfies the undefined
 * symbols of Atheris' core_without_libfuzzer, so that Atheris' own
 * TraceCompareOp and fuzz._fast_trace can be called on the same operands
 * and what they report compared (tests/fuzz/test_fast_trace.py).
 *
 * It also stands in for an Atheris core to bind the tracer to: its
 * atheris::_trace_branch logs each call, and built with -DCOUNTERS it
 * exports the core's counter variables too (8 counters). */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

static char log_text[1 << 16];
static size_t used;

static void add(const char *format, ...) __attribute__((format(printf, 1, 2)));

#include <stdarg.h>
static void add(const char *format, ...)
{
    va_list ap;
    va_start(ap, format);
    int n = vsnprintf(log_text + used, sizeof log_text - used, format, ap);
    va_end(ap);
    if (n > 0 && used + (size_t)n < sizeof log_text)
        used += (size_t)n;
}

static void add_hex(const void *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        add("%02x", ((const unsigned char *)p)[i]);
}

void __sanitizer_cov_trace_cmp8(uint64_t a, uint64_t b) { add("cmp8 %llu %llu\n", (unsigned long long)a, (unsigned long long)b); }

void __sanitizer_cov_trace_const_cmp8(uint64_t a, uint64_t b)
{
    add("const_cmp8 %llu %llu\n", (unsigned long long)a, (unsigned long long)b);
}

void __sanitizer_weak_hook_memcmp(void *pc, const void *a, const void *b, size_t n, int result)
{
    add("memcmp pc=%zu n=%zu ", (size_t)(uintptr_t)pc, n);
    add_hex(a, n);
    add(" ");
    add_hex(b, n);
    add(" %s\n", result == 0 ? "equal" : "differ");
}

/* Atheris' core needs these to load; the tests never call them. */
void __sanitizer_cov_8bit_counters_init(uint8_t *start, uint8_t *stop) { (void)start; (void)stop; }
void __sanitizer_cov_pcs_init(const uintptr_t *start, const uintptr_t *stop) { (void)start; (void)stop; }
int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*cb)(const uint8_t *, size_t)) { (void)argc; (void)argv; (void)cb; return 1; }
size_t LLVMFuzzerMutate(uint8_t *data, size_t size, size_t max_size) { (void)data; (void)max_size; return size; }

void _ZN7atheris13_trace_branchEm(unsigned long index) { add("branch %lu\n", index); }

#ifdef COUNTERS
static unsigned char counter_array[8];
static int pc_entries[8];
unsigned char *_ZN7atheris8countersE = counter_array;
void *_ZN7atheris7pctableE = pc_entries;
int _ZN7atheris12max_countersE = 8;
#endif

/* The counters as text ("0 2 0 ..."), or "" when built without them. */
const char *counter_values(void)
{
    static char text[64];
    text[0] = 0;
#ifdef COUNTERS
    size_t at = 0;
    for (int i = 0; i < 8; i++)
        at += (size_t)snprintf(text + at, sizeof text - at, i ? " %u" : "%u", counter_array[i]);
#endif
    return text;
}

const char *recorded(void) { return log_text; }
void reset(void) { used = 0; log_text[0] = 0; }
