qemu-system-x86_64 -machine q35,kernel-irqchip=split,max-ram-below-4g=2G -m 4G,slots=4,maxmem=1T \
  -cpu EPYC,phys-bits=48 -object memory-backend-ram,id=d0,size=1G -device pc-dimm,id=dimm0,memdev=d0 \
  -device intel-iommu,aw-bits=48 -global q35-pcihost.pci-hole64-size=64G \
  -fw_cfg name=opt/ovmf/X-PciMmio64Mb,string=65536 -device vfio-pci,host=01:00.0
