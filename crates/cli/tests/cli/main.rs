//! Integration tests of the `soprovod` binary, run as a process the way operators run it.

mod embedded_db;
