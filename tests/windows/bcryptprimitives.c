/* Test scaffolding, not product code: wine 8 has no bcryptprimitives.dll, whose ProcessPrng
 * Rust's std (1.78+) imports for its random numbers, so every Rust .exe exits with status 53
 * under it. This stub answers ProcessPrng from BCryptGenRandom (which wine has); scripts/windows-test
 * builds it with mingw-w64 and copies it into the test prefix's system32 only. */
#include <windows.h>
#include <bcrypt.h>

BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len)
{
    while (len > 0) {
        ULONG chunk = len > 0x10000000 ? 0x10000000 : (ULONG)len;
        if (BCryptGenRandom(NULL, data, chunk, BCRYPT_USE_SYSTEM_PREFERRED_RNG) != 0)
            return FALSE;
        data += chunk;
        len -= chunk;
    }
    return TRUE;
}
