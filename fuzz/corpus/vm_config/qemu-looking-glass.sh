qemu-system-x86_64 -enable-kvm -M pc-q35-7.2 -m 16G -cpu host \
  -drive if=pflash,format=raw,readonly=on,file=/usr/share/OVMF/OVMF_CODE_4M.fd \
  -object memory-backend-file,id=lg,mem-path=/dev/shm/looking-glass,size=32M,share=on \
  -device ivshmem-plain,memdev=lg,id=kvmfr \
  -device vfio-pci,host=0000:00:04.0
