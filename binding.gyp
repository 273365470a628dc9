{
  "targets": [
    {
      "target_name": "bkdr_fs",
      "sources": ["native/bkdr_fs.c"],
      "cflags": ["-O2", "-Wall"]
    }
  ]
}
