// How paths and file-system failures are put into words: names that are not UTF-8 with `\xNN` escapes, file
// kinds, and the real cause of an `errno`.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A path's bytes as text: valid UTF-8 as is, every other byte written `\xNN` (two upper-case hex digits).
package func printablePath(_ bytes: some Collection<UInt8>) -> String {
    let raw = Array(bytes)
    if let text = String(validating: raw, as: UTF8.self) { return text }
    var out = ""
    var index = 0
    while index < raw.count {
        // The longest valid UTF-8 sequence starting here (1 to 4 bytes), else one escaped byte.
        var taken = false
        for length in 1...4 where index + length <= raw.count {
            if let text = String(validating: raw[index..<(index + length)], as: UTF8.self) {
                out += text
                index += length
                taken = true
                break
            }
        }
        if !taken {
            let digits = Array("0123456789ABCDEF")
            out += "\\x" + String(digits[Int(raw[index] >> 4)]) + String(digits[Int(raw[index] & 15)])
            index += 1
        }
    }
    return out
}

/// The kind of a file that is not a regular file, for messages: "a FIFO", "a socket", "a character device", …
package func fileKindText(_ mode: mode_t) -> String {
    switch mode & S_IFMT {
    case S_IFIFO: return "a FIFO"
    case S_IFSOCK: return "a socket"
    case S_IFCHR: return "a character device"
    case S_IFBLK: return "a block device"
    case S_IFDIR: return "a folder"
    case S_IFLNK: return "a symbolic link"
    case S_IFREG: return "a regular file"
    default: return "type \(String(mode & S_IFMT, radix: 8))"
    }
}

/// The reason an operation on `path` failed, by its real cause (`errno` `code`).
package func pathErrorText(_ code: Int32, _ path: String) -> String {
    switch code {
    case ENAMETOOLONG:
        return "the path is \(path.utf8.count) bytes, longer than the system allows (PATH_MAX, \(PATH_MAX) bytes, "
            + "or NAME_MAX, 255 bytes, for one name)"
    case ELOOP: return "symbolic link loop (too many levels of symbolic links)"
    case ENOENT: return "no such file or folder"
    case EACCES: return "permission denied"
    case ENOTDIR: return "a part of the path is not a folder"
    default: return String(cString: strerror(code))
    }
}

/// `body` with `path` as a NUL-terminated C string.
package func withCPath<T>(_ path: [UInt8], _ body: (UnsafePointer<CChar>) -> T) -> T {
    (path + [0]).withUnsafeBufferPointer { bytes in
        bytes.withMemoryRebound(to: CChar.self) { body($0.baseAddress!) }
    }
}
