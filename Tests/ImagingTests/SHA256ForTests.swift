import Foundation
import Hub

/// SHA-256 hex digests of pixel and tensor buffers, through the Hub module's SHA-256 (checked there against
/// the standard test vectors), for comparing with the digests the Python fixture scripts wrote.
enum SHA256ForTests {
    static func hex(_ bytes: [UInt8]) -> String { HubChecksum.sha256Hex(of: Data(bytes)) }

    /// The digest of the floats' little-endian IEEE bytes (numpy's float32 C-order `tobytes()`).
    static func hex(_ floats: [Float]) -> String {
        floats.withUnsafeBytes { HubChecksum.sha256Hex(of: Data($0)) }
    }
}
