import Foundation
import Imaging
import XCTest

/// File → decode → preprocess, against torchvision's tensors on Pillow's decode of the same files
/// (manifest hashes written by tools/reference/make_image_fixtures.py).
final class DecodeThenPreprocessTests: XCTestCase {
    private func check(_ preprocessing: Preprocessing, decode options: DecodeOptions = .init(),
                       digest: (DecodeFixtureImage) -> DecodeTensorDigest) throws {
        let manifest = try DecodeFixtures.manifest.get()
        XCTAssertGreaterThan(manifest.images.count, 100)
        var matched = 0
        for image in manifest.images {
            let rgb = try decodeImage(path: DecodeFixtures.path(image.file), options: options)
            let tensor = preprocessing.apply(rgb)
            let expected = digest(image)
            XCTAssertEqual(tensor.count, expected.shape.reduce(1, *), image.file)
            if SHA256ForTests.hex(tensor) == expected.sha256 {
                matched += 1
            } else {
                let plane = tensor.count / 3
                let means = (0..<3).map { c in tensor[(c * plane)..<((c + 1) * plane)].reduce(0.0) { $0 + Double($1) } / Double(plane) }
                XCTFail("\(image.file): tensor differs from torchvision's; channel means \(means) vs \(expected.channelMeans)")
            }
        }
        XCTAssertEqual(matched, manifest.images.count)
    }

    func testInferenceTensorsAreTorchvisionsExactly() throws {
        try check(.inference) { $0.centerCrop224 }
    }

    /// What the embedder does: decode only the window the center crop keeps (JPEG: only those rows and columns).
    func testInferenceTensorsFromWindowDecodesAreTorchvisionsExactly() throws {
        try check(.inference, decode: DecodeOptions(centerCropWindow: 224)) { $0.centerCrop224 }
    }

    func testTrainingEvalTensorsAreTorchvisionsExactly() throws {
        try check(.trainingEval) { $0.resize248CenterCrop224 }
    }
}
