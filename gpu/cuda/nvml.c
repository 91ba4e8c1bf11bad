/*
 * nvml.c — the GPU's utilisation through NVML, loaded at run time: libnvidia-ml.so.1 comes with
 * the NVIDIA driver (on a node, the container toolkit mounts it beside libcuda.so.1), not with
 * the CUDA toolkit, so the engine must not link it. Without it (no driver, a driver without
 * NVML, a container started without the utility capability) the utilisation is unknown (-1) and
 * /metrics leaves the gauge out rather than show a false 0.
 *
 * The four entry points and two types used are NVML's stable C ABI (nvml.h of every driver since
 * 2013: nvmlInit_v2, nvmlDeviceGetHandleByPciBusId_v2, nvmlDeviceGetUtilizationRates,
 * nvmlErrorString); no NVML header is needed at build time. The device is found by its PCI bus
 * id, which CUDA and NVML agree on, unlike their device indices (CUDA_VISIBLE_DEVICES).
 * Loaded once per process, on first use; any thread afterwards (NVML is thread-safe).
 */
#define _GNU_SOURCE
#include "gpu/cuda/cuda_int.h"

#include <dlfcn.h>
#include <pthread.h>

typedef int nvml_return;   /* nvmlReturn_t: 0 is NVML_SUCCESS */
typedef void *nvml_device; /* nvmlDevice_t */
typedef struct nvml_utilization {
    unsigned int gpu;    /* percent of the last sample period a kernel ran */
    unsigned int memory; /* percent of it device memory was read or written */
} nvml_utilization;      /* nvmlUtilization_t */

static struct {
    void *lib;
    nvml_return (*init)(void);
    nvml_return (*by_pci)(const char *bus_id, nvml_device *dev);
    nvml_return (*utilization)(nvml_device dev, nvml_utilization *u);
} nv;
static pthread_once_t nv_once = PTHREAD_ONCE_INIT;

static void nv_load(void)
{
    void *lib = dlopen("libnvidia-ml.so.1", RTLD_NOW | RTLD_LOCAL);
    if (lib == NULL)
        return;
    nv.init = (nvml_return(*)(void))dlsym(lib, "nvmlInit_v2");
    nv.by_pci =
        (nvml_return(*)(const char *, nvml_device *))dlsym(lib, "nvmlDeviceGetHandleByPciBusId_v2");
    nv.utilization = (nvml_return(*)(nvml_device, nvml_utilization *))dlsym(
        lib, "nvmlDeviceGetUtilizationRates");
    if (nv.init == NULL || nv.by_pci == NULL || nv.utilization == NULL || nv.init() != 0) {
        dlclose(lib);
        nv.init = NULL;
        return;
    }
    nv.lib = lib; /* kept for the process's life: NVML has no cost while idle */
}

int cu_nvml_utilization(int device)
{
    pthread_once(&nv_once, nv_load);
    if (nv.lib == NULL)
        return -1;
    char bus[32];
    if (cudaDeviceGetPCIBusId(bus, (int)sizeof bus, device) != cudaSuccess) {
        (void)cudaGetLastError();
        return -1;
    }
    nvml_device d = NULL;
    nvml_utilization u;
    if (nv.by_pci(bus, &d) != 0 || nv.utilization(d, &u) != 0 || u.gpu > 100)
        return -1;
    return (int)u.gpu;
}
