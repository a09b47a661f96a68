# Installs the build into a fresh prefix, then builds and runs a C consumer with CMake's
# find_package(mxl) and with pkg-config, as users of an installed libmxl would.
# Usage: cmake -DBUILD_DIR=... -DSOURCE_DIR=... -DWORK_DIR=... -P CheckInstall.cmake
file(REMOVE_RECURSE ${WORK_DIR})
set(prefix ${WORK_DIR}/prefix)

function(run)
    execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
    if(NOT rc EQUAL 0)
        message(FATAL_ERROR "failed (${rc}): ${ARGN}\n${out}\n${err}")
    endif()
endfunction()

run(${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${prefix})
foreach(required include/mxl/mxl.h include/mxl/flow.h)
    if(NOT EXISTS ${prefix}/${required})
        message(FATAL_ERROR "${required} was not installed")
    endif()
endforeach()
file(GLOB_RECURSE libs ${prefix}/*/libmxl.so.0)
if(NOT libs)
    message(FATAL_ERROR "libmxl.so.0 (the SONAME) was not installed")
endif()
list(GET libs 0 lib)
get_filename_component(libdir ${lib} DIRECTORY)

# find_package(mxl)
run(${CMAKE_COMMAND} -S ${SOURCE_DIR}/tests/install/consumer -B ${WORK_DIR}/cmake-consumer -DCMAKE_PREFIX_PATH=${prefix})
run(${CMAKE_COMMAND} --build ${WORK_DIR}/cmake-consumer)
run(${CMAKE_COMMAND} -E env LD_LIBRARY_PATH=${libdir} ${WORK_DIR}/cmake-consumer/consumer)

# pkg-config
find_program(PKG_CONFIG pkg-config REQUIRED)
find_program(CC NAMES cc gcc REQUIRED)
execute_process(COMMAND ${CMAKE_COMMAND} -E env PKG_CONFIG_PATH=${libdir}/pkgconfig ${PKG_CONFIG} --cflags --libs libmxl
    RESULT_VARIABLE rc OUTPUT_VARIABLE flags OUTPUT_STRIP_TRAILING_WHITESPACE)
if(NOT rc EQUAL 0)
    message(FATAL_ERROR "pkg-config does not know libmxl")
endif()
separate_arguments(flags UNIX_COMMAND "${flags}")
run(${CC} -std=c17 -Wall -Werror ${SOURCE_DIR}/tests/install/consumer/consumer.c ${flags} -o ${WORK_DIR}/pc-consumer)
run(${CMAKE_COMMAND} -E env LD_LIBRARY_PATH=${libdir} ${WORK_DIR}/pc-consumer)
file(REMOVE_RECURSE ${WORK_DIR})
message(STATUS "installed libmxl works with find_package(mxl) and pkg-config")
