// swift-tools-version:6.0
// ckpt — transformer checkpoint toolkit. See README.md and DESIGN notes in docs/.
import PackageDescription

let package = Package(
    name: "ckpt",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "ckpt", targets: ["ckpt"]),
        .library(name: "Formats", targets: ["Formats"]),
        .library(name: "Tokenizers", targets: ["Tokenizers"]),
        .library(name: "Model", targets: ["Model"]),
        .library(name: "Convert", targets: ["Convert"]),
        .library(name: "Tasks", targets: ["Tasks"]),
        .library(name: "Train", targets: ["Train"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        // MARK: - System libraries (Debian: libhdf5-dev with its zlib1g-dev, libopenblas-dev, libjson-c-dev)
        .systemLibrary(
            name: "CHDF5", pkgConfig: "hdf5",
            providers: [.apt(["libhdf5-dev"])]),
        .systemLibrary(
            name: "COpenBLAS", pkgConfig: "openblas",
            providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(
            name: "CJSONC", pkgConfig: "json-c",
            providers: [.apt(["libjson-c-dev"])]),
        // zlib comes with libhdf5-dev: the HDF5 checks measure what a chunk inflates to.
        .systemLibrary(
            name: "CZlib", pkgConfig: "zlib",
            providers: [.apt(["zlib1g-dev"])]),

        // copy_file_range and other _GNU_SOURCE calls Swift's Glibc module lacks.
        .target(name: "CShims"),
        // ckpt's sgemm kernels (AVX-512, AVX2, AVX512_BF16), chosen at run time (see Sources/Model/Matmul.swift).
        .target(name: "CKernels"),

        // MARK: - Libraries
        .target(name: "Formats", dependencies: ["CHDF5", "CJSONC", "CZlib", "CShims"]),
        .target(name: "Tokenizers", dependencies: ["Formats"]),
        .target(name: "Model", dependencies: ["Formats", "COpenBLAS", "CKernels"]),
        .target(name: "Verify", dependencies: ["Model", "Tokenizers", "Formats"]),
        .target(name: "Convert", dependencies: ["Formats", "Tokenizers", "Model"]),
        .target(name: "Tasks", dependencies: ["Model", "Tokenizers", "Formats"]),
        .target(name: "Train", dependencies: ["Model", "Tokenizers", "Formats", "Tasks", "CShims", "CKernels"]),

        // MARK: - Fuzzing (docs/fuzzing.md)
        // Every untrusted reader as a function of bytes.
        .target(name: "FuzzHarnesses", dependencies: ["Formats", "Tokenizers", "Model", "Tasks", "Train"]),
        // libFuzzer's driver, declared for ckpt-fuzz built by `make fuzz`.
        .target(name: "CFuzz"),
        // ckpt-fuzz: a libFuzzer binary under `make fuzz`, a replayer otherwise.
        .executableTarget(name: "ckpt-fuzz", dependencies: ["FuzzHarnesses", "CFuzz", "Formats"]),

        // MARK: - Command line
        .executableTarget(
            name: "ckpt",
            dependencies: [
                "Formats", "Convert", "Tokenizers", "Model", "Verify", "Tasks", "Train",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),

        // MARK: - Tests
        .target(name: "TestSupport", dependencies: ["Formats", "CHDF5"], path: "Tests/TestSupport"),
        .testTarget(name: "FormatsTests", dependencies: ["Formats", "TestSupport", "CHDF5"]),
        .testTarget(name: "TokenizersTests", dependencies: ["Tokenizers", "Formats", "TestSupport"]),
        .testTarget(name: "ModelTests", dependencies: ["Model", "CKernels", "Verify", "Convert", "Tokenizers", "Formats", "TestSupport"]),
        .testTarget(name: "TrainTests", dependencies: ["Train", "Tasks", "Model", "Formats", "TestSupport"]),
        .testTarget(name: "TasksTests", dependencies: ["Tasks", "Model", "Tokenizers", "Formats", "TestSupport"]),
        .testTarget(name: "ConvertTests", dependencies: ["Convert", "Formats", "Tokenizers", "Model", "TestSupport"]),
        // Runs the built `ckpt` binary end to end.
        .testTarget(name: "FuzzTests", dependencies: ["FuzzHarnesses", "Formats", "TestSupport"]),
        .testTarget(name: "CLITests", dependencies: ["ckpt", "Formats", "TestSupport", "CHDF5"]),
    ]
)
