# Finds libmd (Debian: libmd-dev; libmd0 is on every Debian system, through libbsd), the BSD
# message digests, and defines the imported target LibMD::LibMD. Used by deepl's build and by its
# installed CMake package.
include(${CMAKE_CURRENT_LIST_DIR}/DeeplFindPlainLibrary.cmake)
deepl_find_plain_library(LibMD sha2.h md)
