// swift-tools-version:6.0
import PackageDescription

// Linux: oneDNN (matrix products) and the image codecs come from Debian's -dev packages (scripts/install-deps
// installs them). `DEEPFAKE_BLAS=openblas swift build` links OpenBLAS's CBLAS instead of oneDNN.
// macOS: matrix products go through Accelerate; the codecs through Homebrew's libraries (brew install
// jpeg-turbo libpng libtiff giflib webp snappy zstd; export CPATH=$(brew --prefix)/include LIBRARY_PATH=$(brew --prefix)/lib).
// MPI (module Collective, for runs over several processes or machines): Debian's Open MPI (libopenmpi-dev), its
// header and library found through pkg-config's ompi-c; `DEEPFAKE_MPI=mpich swift build` (or another MPI's
// pkg-config name: impi, ...) builds against that MPI instead (README, "Building and running with a site's MPI").
// No unsafe flags, so other packages can depend on this one.
let useOpenBLAS = Context.environment["DEEPFAKE_BLAS"] == "openblas"
let mpiPkgConfig = Context.environment["DEEPFAKE_MPI"] ?? "ompi-c"

let package = Package(
    name: "deepfake",
    platforms: [.macOS(.v13)],
    // What a Swift user would import: Detection is the front door (load a model, embed, detect, evaluate); the
    // format modules stand on their own. The other modules are this package's parts (`package` access).
    products: [
        .executable(name: "deepfake", targets: ["deepfake"]),
        .library(name: "Detection", targets: ["Detection"]),
        .library(name: "WebDataset", targets: ["WebDataset"]),
        .library(name: "Parquet", targets: ["Parquet"]),
        .library(name: "Imaging", targets: ["Imaging"]),
        .library(name: "Checkpoints", targets: ["Checkpoints"]),
        .library(name: "Hub", targets: ["Hub"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
    ],
    targets: [
        .systemLibrary(name: "CBLAS", path: "Sources/CBLAS"),
        .systemLibrary(name: "CDNNL", path: "Sources/CDNNL"),
        .systemLibrary(name: "CZlib", path: "Sources/CZlib"),
        .systemLibrary(name: "CCurl", path: "Sources/CCurl"),
        .systemLibrary(name: "CSnappy", path: "Sources/CSnappy"),
        .systemLibrary(name: "CZstd", path: "Sources/CZstd"),
        .systemLibrary(name: "CRenameExchange", path: "Sources/CRenameExchange"),
        .systemLibrary(
            name: "CMPI", path: "Sources/CMPI", pkgConfig: mpiPkgConfig,
            providers: [.apt(["libopenmpi-dev"]), .brew(["open-mpi"])]),
        .target(
            name: "CImageCodecs",
            path: "Sources/CImageCodecs",
            linkerSettings: [
                .linkedLibrary("jpeg"), .linkedLibrary("png16"), .linkedLibrary("tiff"),
                .linkedLibrary("gif"), .linkedLibrary("webp"), .linkedLibrary("z"),
            ]),
        .target(name: "CKernels", path: "Sources/CKernels"),
        .target(name: "FileAccess"),
        // What several modules share, below all of them: random streams, SHA-256, JSON and CSV writing, atomic
        // file and folder replacement, the HTTP client, the progress bar.
        .target(name: "DeepfakeCore", dependencies: ["CCurl", "CRenameExchange", .product(name: "Logging", package: "swift-log"),
                                                    .product(name: "Yams", package: "Yams")]),
        .target(
            name: "Tensor",
            dependencies: ["CKernels", .target(name: useOpenBLAS ? "CBLAS" : "CDNNL", condition: .when(platforms: [.linux]))],
            linkerSettings: [.linkedFramework("Accelerate", .when(platforms: [.macOS]))]),
        .target(name: "Imaging", dependencies: ["CImageCodecs", "FileAccess"]),
        .target(name: "Checkpoints", dependencies: ["DeepfakeCore", "Tensor", "CZlib"]),
        .target(name: "ViT", dependencies: ["DeepfakeCore", "Tensor", "Checkpoints"]),
        .target(name: "Heads", dependencies: ["Tensor", "Checkpoints"]),
        .target(name: "Hub", dependencies: ["DeepfakeCore", .product(name: "Logging", package: "swift-log")]),
        .target(name: "EmbeddingMap", dependencies: ["Tensor"]),
        .target(name: "Parquet", dependencies: ["CZlib", "CSnappy", "CZstd"]),
        .target(name: "Collective", dependencies: ["CMPI"]),
        .target(name: "WebDataset", dependencies: ["Checkpoints", "DeepfakeCore", "FileAccess", "Imaging", "Tensor", .product(name: "Logging", package: "swift-log")]),
        // The D3 record: its fields and keys in shards, the download folder's layout, roles in evaluation.
        .target(name: "D3", dependencies: ["DeepfakeCore", "FileAccess", "Imaging", "WebDataset"]),
        .target(
            name: "Detection",
            dependencies: ["D3", "DeepfakeCore", "Tensor", "FileAccess", "Imaging", "Checkpoints", "ViT", "Heads", "Hub", "WebDataset",
                           .product(name: "Yams", package: "Yams")]),
        .target(
            name: "Training",
            dependencies: ["D3", "DeepfakeCore", "Tensor", "Imaging", "Checkpoints", "ViT", "Heads", "WebDataset",
                           .product(name: "Yams", package: "Yams")]),
        .executableTarget(
            name: "deepfake",
            dependencies: ["D3", "DeepfakeCore", "Tensor", "Imaging", "Checkpoints", "ViT", "Heads", "WebDataset", "Detection", "Training",
                           .product(name: "ArgumentParser", package: "swift-argument-parser"),
                           .product(name: "Logging", package: "swift-log")]),
        .executableTarget(name: "deepfake-bench", dependencies: ["DeepfakeCore", "Detection", "Training", "WebDataset", "ViT", "Tensor", "Imaging", "Collective",
                                                         .product(name: "ArgumentParser", package: "swift-argument-parser")]),
        .executableTarget(name: "deepfake-collective-check", dependencies: ["Collective"]),
        // libFuzzer targets for the readers of untrusted files; scripts/fuzz builds them with the sanitizers. The
        // normal build gives it a main that replays inputs.
        .executableTarget(
            name: "deepfake-fuzz",
            dependencies: ["Imaging", "WebDataset", "Checkpoints", "Heads", "ViT", "Detection", "Training", "Parquet"]),
        // Shared by the test targets: fixture paths, the loopback HTTP listener.
        .target(name: "TestSupport", dependencies: ["CZlib"], path: "Tests/TestSupport"),
        .testTarget(name: "DeepfakeCoreTests", dependencies: ["DeepfakeCore", "TestSupport"]),
        .testTarget(name: "TensorTests", dependencies: ["Tensor"]),
        .testTarget(name: "ImagingTests", dependencies: ["Imaging", "DeepfakeCore", "TestSupport"]),
        .testTarget(name: "CheckpointsTests", dependencies: ["Checkpoints", "DeepfakeCore", "Tensor", "TestSupport"]),
        .testTarget(name: "ViTTests", dependencies: ["ViT", "Checkpoints", "Tensor", "DeepfakeCore", "TestSupport"]),
        .testTarget(name: "HeadsTests", dependencies: ["Heads", "Checkpoints", "Tensor", "TestSupport"]),
        .testTarget(name: "HubTests", dependencies: ["Hub", "DeepfakeCore", "TestSupport"]),
        .testTarget(name: "WebDatasetTests", dependencies: ["Checkpoints", "Tensor", "WebDataset", "Imaging", "DeepfakeCore", "TestSupport"]),
        .testTarget(name: "DetectionTests", dependencies: ["Detection", "Heads", "Tensor", "ViT", "WebDataset", "DeepfakeCore", "TestSupport"]),
        .testTarget(name: "D3Tests", dependencies: ["D3", "WebDataset", "TestSupport"]),
        .testTarget(name: "CollectiveTests", dependencies: ["Collective"]),
        .testTarget(name: "ParquetTests", dependencies: ["Parquet", "DeepfakeCore", "TestSupport"]),
        .testTarget(name: "EmbeddingMapTests", dependencies: ["EmbeddingMap", "Checkpoints", "TestSupport"]),
        .testTarget(name: "TrainingTests", dependencies: ["Training", "Detection", "ViT", "Tensor", "Checkpoints", "Imaging", "WebDataset",
                                                          "DeepfakeCore", "TestSupport"]),
    ]
)
