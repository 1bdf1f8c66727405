import Foundation
import DeepfakeCore

/// SHA-256 hex digests of pixel and tensor buffers, through DeepfakeCore's SHA-256 (checked against the
/// standard test vectors in HubTests), for comparing with the digests the Python fixture scripts wrote.
enum SHA256ForTests {
    static func hex(_ bytes: [UInt8]) -> String { SHA256.hex(of: bytes) }

    /// The digest of the floats' little-endian IEEE bytes (numpy's float32 C-order `tobytes()`).
    static func hex(_ floats: [Float]) -> String {
        floats.withUnsafeBytes { SHA256.hex(of: Data($0)) }
    }
}
