/* libFuzzer's custom-mutator hook for a preloaded libFuzzer.
 *
 * libFuzzer finds LLVMFuzzerCustomMutator through a weak symbol, bound when
 * the preload is loaded, before Python starts: Atheris' own definition (in
 * the atheris.custom_mutator extension, loaded much later) is never seen, so
 * atheris.Setup(custom_mutator=...) silently does nothing under LD_PRELOAD
 * (google/atheris#54). This object is preloaded beside the runtime when a
 * target has a custom mutator (fuzz/build.py, fuzz/harness.py): libFuzzer binds
 * to the definition below, and the harness points it at Atheris' function once
 * Setup has installed the Python mutator. Until then, and if it never does,
 * every call goes to libFuzzer's own mutator. */
#include <stddef.h>
#include <stdint.h>

typedef size_t (*mutator_fn)(uint8_t *data, size_t size, size_t max_size, unsigned int seed);

size_t LLVMFuzzerMutate(uint8_t *data, size_t size, size_t max_size);

static mutator_fn target_mutator;

__attribute__((visibility("default"))) void blazefuzz_set_custom_mutator(mutator_fn fn)
{
    target_mutator = fn;
}

__attribute__((visibility("default")))
size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size, unsigned int seed)
{
    if (target_mutator == NULL)
        return LLVMFuzzerMutate(data, size, max_size);
    return target_mutator(data, size, max_size, seed);
}
