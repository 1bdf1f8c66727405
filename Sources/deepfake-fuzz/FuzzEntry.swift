// deepfake-fuzz: libFuzzer's entry points, and a replay `main` for the normal build.
//
// Fuzzer build (scripts/fuzz builds it; DEEPFAKE_FUZZ removes the `main` below so that libFuzzer's runs):
//   swift build -c release --product deepfake-fuzz --scratch-path .build-fuzz --sanitize=fuzzer \
//     -Xswiftc -sanitize=fuzzer,address -Xcc -fsanitize=address -Xswiftc -DDEEPFAKE_FUZZ
//   DEEPFAKE_FUZZ_TARGET=image .build-fuzz/release/deepfake-fuzz [libFuzzer flags] CORPUS...
// Normal build (`swift build` builds it too): replays inputs, e.g. a finding, without libFuzzer:
//   deepfake-fuzz TARGET FILE_OR_FOLDER...

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// The target `LLVMFuzzerTestOneInput` feeds, from `DEEPFAKE_FUZZ_TARGET` (checked in `LLVMFuzzerInitialize`).
nonisolated(unsafe) private var selectedTarget: FuzzTarget?

private func targetFromEnvironment() -> FuzzTarget {
    let name = ProcessInfo.processInfo.environment["DEEPFAKE_FUZZ_TARGET"] ?? ""
    guard let target = FuzzTarget(rawValue: name) else {
        printError("deepfake-fuzz: set DEEPFAKE_FUZZ_TARGET to one of: \(FuzzTarget.allCases.map(\.rawValue).joined(separator: ", "))"
                   + (name.isEmpty ? "" : " (found '\(name)')"))
        exit(64)
    }
    return target
}

private func printError(_ message: String) {
    FileHandle.standardError.write(Data((message + "\n").utf8))
}

/// libFuzzer calls this once before fuzzing: the target is chosen (or the process stops with usage).
@_cdecl("LLVMFuzzerInitialize")
public func fuzzerInitialize(_ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>) -> CInt {
    selectedTarget = targetFromEnvironment()
    return 0
}

/// libFuzzer calls this with each input.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzerTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let target = selectedTarget ?? targetFromEnvironment()
    selectedTarget = target
    _ = target.run(size == 0 ? [] : Array(UnsafeBufferPointer(start: data, count: size)))
    return 0
}

#if !DEEPFAKE_FUZZ
/// Replays files (folders: every file under them, in name order) through a target and prints each outcome.
@main
enum Replay {
    static func main() {
        let arguments = Array(CommandLine.arguments.dropFirst())
        guard let name = arguments.first, let target = FuzzTarget(rawValue: name), arguments.count > 1 else {
            printError("""
                usage: deepfake-fuzz TARGET FILE_OR_FOLDER...
                Replays inputs through a fuzz target (\(FuzzTarget.allCases.map(\.rawValue).joined(separator: ", "))) and prints
                what each gave; a crash is a finding. scripts/fuzz builds the fuzzer itself.
                """)
            exit(64)
        }
        var failed = false
        for path in arguments.dropFirst() {
            for file in files(under: path) {
                guard let data = FileManager.default.contents(atPath: file) else {
                    print("\(file): cannot read")
                    failed = true
                    continue
                }
                print("\(file): \(target.run([UInt8](data)))")
            }
        }
        exit(failed ? 1 : 0)
    }

    /// `path` itself, or the regular files under it when it is a folder, sorted.
    static func files(under path: String) -> [String] {
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isFolder), isFolder.boolValue else { return [path] }
        let found = FileManager.default.enumerator(atPath: path)?.compactMap { $0 as? String } ?? []
        return found.sorted().map { path + "/" + $0 }.filter {
            var folder: ObjCBool = false
            return FileManager.default.fileExists(atPath: $0, isDirectory: &folder) && !folder.boolValue
        }
    }
}
#endif
