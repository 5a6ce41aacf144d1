# Finds libcsv (Debian: libcsv-dev) and defines the imported target LibCSV::LibCSV. Used by
# deepl's build and by its installed CMake package.
include(${CMAKE_CURRENT_LIST_DIR}/DeeplFindPlainLibrary.cmake)
deepl_find_plain_library(LibCSV csv.h csv)
