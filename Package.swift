// swift-tools-version:6.0
import PackageDescription

// Linux: oneDNN (matrix products) and the image codecs come from Debian's -dev packages (scripts/install-deps
// installs them). `DEEPFAKE_BLAS=openblas swift build` links OpenBLAS's CBLAS instead of oneDNN.
// macOS: matrix products go through Accelerate; the codecs through Homebrew's libraries (brew install
// jpeg-turbo libpng libtiff giflib webp snappy zstd; export CPATH=$(brew --prefix)/include LIBRARY_PATH=$(brew --prefix)/lib).
// No unsafe flags, so other packages can depend on this one.
let useOpenBLAS = Context.environment["DEEPFAKE_BLAS"] == "openblas"

let package = Package(
    name: "deepfake",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "deepfake", targets: ["deepfake"]),
        .library(name: "Tensor", targets: ["Tensor"]),
        .library(name: "Imaging", targets: ["Imaging"]),
        .library(name: "Checkpoints", targets: ["Checkpoints"]),
        .library(name: "ViT", targets: ["ViT"]),
        .library(name: "Heads", targets: ["Heads"]),
        .library(name: "Hub", targets: ["Hub"]),
        .library(name: "WebDataset", targets: ["WebDataset"]),
        .library(name: "Detection", targets: ["Detection"]),
        .library(name: "Training", targets: ["Training"]),
        .library(name: "Parquet", targets: ["Parquet"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
    ],
    targets: [
        .systemLibrary(name: "CBLAS", path: "Sources/CBLAS"),
        .systemLibrary(name: "CDNNL", path: "Sources/CDNNL"),
        .systemLibrary(name: "CZlib", path: "Sources/CZlib"),
        .systemLibrary(name: "CCurl", path: "Sources/CCurl"),
        .systemLibrary(name: "CSnappy", path: "Sources/CSnappy"),
        .systemLibrary(name: "CZstd", path: "Sources/CZstd"),
        .target(
            name: "CImageCodecs",
            path: "Sources/CImageCodecs",
            linkerSettings: [
                .linkedLibrary("jpeg"), .linkedLibrary("png16"), .linkedLibrary("tiff"),
                .linkedLibrary("gif"), .linkedLibrary("webp"), .linkedLibrary("z"),
            ]),
        .target(name: "CKernels", path: "Sources/CKernels"),
        .target(
            name: "Tensor",
            dependencies: ["CKernels", .target(name: useOpenBLAS ? "CBLAS" : "CDNNL", condition: .when(platforms: [.linux]))],
            linkerSettings: [.linkedFramework("Accelerate", .when(platforms: [.macOS]))]),
        .target(name: "Imaging", dependencies: ["CImageCodecs"]),
        .target(name: "Checkpoints", dependencies: ["Tensor", "CZlib"]),
        .target(name: "ViT", dependencies: ["Tensor", "Checkpoints"]),
        .target(name: "Heads", dependencies: ["Tensor", "Checkpoints"]),
        .target(name: "Hub", dependencies: ["CCurl"]),
        .target(name: "Parquet", dependencies: ["CZlib", "CSnappy", "CZstd"]),
        .target(name: "WebDataset", dependencies: ["Imaging", "Checkpoints", "Tensor"]),
        .target(
            name: "Detection",
            dependencies: ["Tensor", "Imaging", "Checkpoints", "ViT", "Heads", "Hub", "WebDataset", .product(name: "Yams", package: "Yams")]),
        .target(
            name: "Training",
            dependencies: ["Tensor", "Imaging", "Checkpoints", "ViT", "Heads", "WebDataset", "Detection", .product(name: "Yams", package: "Yams")]),
        .executableTarget(
            name: "deepfake",
            dependencies: ["Detection", "Training", .product(name: "ArgumentParser", package: "swift-argument-parser")]),
        .executableTarget(name: "deepfake-bench", dependencies: ["Detection", "Training", "WebDataset", "ViT", "Tensor", "Heads", "Imaging"]),
        // libFuzzer targets for the readers of untrusted files; scripts/fuzz builds them with the sanitizers. The
        // normal build gives it a main that replays inputs.
        .executableTarget(
            name: "deepfake-fuzz",
            dependencies: ["Imaging", "WebDataset", "Checkpoints", "Heads", "ViT", "Detection", "Training", "Parquet"]),
        .target(name: "TestSupport", path: "Tests/TestSupport"),
        .testTarget(name: "TensorTests", dependencies: ["Tensor"]),
        .testTarget(name: "ImagingTests", dependencies: ["Imaging", "Hub", "WebDataset"]),
        .testTarget(name: "CheckpointsTests", dependencies: ["Checkpoints", "WebDataset"]),
        .testTarget(name: "ViTTests", dependencies: ["ViT", "Checkpoints", "Tensor", "WebDataset"]),
        .testTarget(name: "HeadsTests", dependencies: ["Heads", "Checkpoints"]),
        .testTarget(name: "HubTests", dependencies: ["Hub", "TestSupport"]),
        .testTarget(name: "WebDatasetTests", dependencies: ["WebDataset", "Imaging", "Hub", "TestSupport"]),
        .testTarget(name: "DetectionTests", dependencies: ["Detection", "WebDataset"]),
        .testTarget(name: "ParquetTests", dependencies: ["Parquet", "WebDataset"]),
        .testTarget(name: "TrainingTests", dependencies: ["Training", "Detection", "ViT", "Tensor", "Checkpoints", "Imaging", "WebDataset", "Hub"]),
    ]
)
