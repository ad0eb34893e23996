# Every dependency is a Debian package found through find_package; nothing is downloaded.
find_package(xtl REQUIRED)
find_package(xtensor REQUIRED)
find_package(xtensor-blas REQUIRED)
set(BLA_VENDOR OpenBLAS)
find_package(BLAS REQUIRED)
find_package(TBB REQUIRED)
find_package(fmt REQUIRED)
