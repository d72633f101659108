# find_package(sluice): the imported target sluice::sluice (libsluice.so and its header).
include("${CMAKE_CURRENT_LIST_DIR}/sluiceTargets.cmake")
