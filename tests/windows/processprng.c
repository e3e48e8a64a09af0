/* Wine 8's bcryptprimitives.dll lacks ProcessPrng, which Rust's standard library calls for
 * random bytes on Windows. This stand-in exports it on top of advapi32's RtlGenRandom
 * (SystemFunction036). Test-only: real Windows has ProcessPrng since Windows 10. */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T length)
{
    while (length > 0) {
        ULONG n = length > 0x10000000 ? 0x10000000 : (ULONG)length;
        if (!SystemFunction036(data, n))
            return FALSE;
        data += n;
        length -= n;
    }
    return TRUE;
}
