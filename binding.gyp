{
  "targets": [
    {
      "target_name": "bkdr_fs",
      "sources": ["native/bkdr_fs.c"],
      "cflags": ["-O2", "-Wall"]
    },
    {
      "target_name": "bkdr_blob",
      "sources": ["native/bkdr_blob.c", "native/gzip.c", "native/index_scan.c", "native/vendor/lz4/lz4.c"],
      "cflags": ["-O3", "-Wall"]
    },
    {
      "target_name": "bkdr-wal",
      "type": "executable",
      "sources": ["native/bkdr_wal.c"],
      "cflags": ["-O2", "-Wall", "-Wno-format-truncation"]
    }
  ]
}
