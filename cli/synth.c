/* obia synth: realistic synthetic DICOM studies and a matching clinical CSV,
 * for the demo, the tests and the benchmarks.
 *
 * Every random choice is drawn from a stream derived from (seed, individual),
 * so the output is the same byte for byte for a seed, whatever --jobs and
 * the order the workers take individuals in.  Individuals are planned first
 * (demographics, clinical data, number and first date of studies: the CSV),
 * then workers generate their studies.  Each image is built in a fresh
 * dataset, written with obia_write_part10() and freed; each worker owns its
 * pixel buffers. */
#include "cli.h"
#include "obia/dicom.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))
#define LIST(...) (const char *const[]){__VA_ARGS__}, COUNT(((const char *const[]){__VA_ARGS__}))

/* Bounds of the options: beyond them the run is a mistake, not a test set. */
#define MAX_INDIVIDUALS 100000u
#define MAX_STUDIES 100u
#define MAX_SERIES 100u
#define MAX_IMAGES 5000u
#define MIN_SIZE 8u
#define MAX_SIZE 4096u
#define MAX_TOTAL_IMAGES 50000000ull
#define MAX_JOBS 64u

/* ---- attributes --------------------------------------------------------------
 * Every attribute written, by keyword, with the VR used.  The tags are
 * checked against the dictionary before the first file is written. */
#define ATTRS(X)                                                                                \
    X(SpecificCharacterSet, 0x0008, 0x0005, CS) X(ImageType, 0x0008, 0x0008, CS)               \
    X(InstanceCreationDate, 0x0008, 0x0012, DA) X(InstanceCreationTime, 0x0008, 0x0013, TM)    \
    X(SOPClassUID, 0x0008, 0x0016, UI) X(SOPInstanceUID, 0x0008, 0x0018, UI)                   \
    X(StudyDate, 0x0008, 0x0020, DA) X(SeriesDate, 0x0008, 0x0021, DA)                         \
    X(AcquisitionDate, 0x0008, 0x0022, DA) X(ContentDate, 0x0008, 0x0023, DA)                  \
    X(StudyTime, 0x0008, 0x0030, TM) X(SeriesTime, 0x0008, 0x0031, TM)                         \
    X(AcquisitionTime, 0x0008, 0x0032, TM) X(ContentTime, 0x0008, 0x0033, TM)                  \
    X(AccessionNumber, 0x0008, 0x0050, SH) X(Modality, 0x0008, 0x0060, CS)                     \
    X(PresentationIntentType, 0x0008, 0x0068, CS) X(Manufacturer, 0x0008, 0x0070, LO)          \
    X(InstitutionName, 0x0008, 0x0080, LO) X(InstitutionAddress, 0x0008, 0x0081, ST)           \
    X(ReferringPhysicianName, 0x0008, 0x0090, PN) X(CodeValue, 0x0008, 0x0100, SH)             \
    X(CodingSchemeDesignator, 0x0008, 0x0102, SH) X(CodeMeaning, 0x0008, 0x0104, LO)           \
    X(TimezoneOffsetFromUTC, 0x0008, 0x0201, SH) X(StationName, 0x0008, 0x1010, SH)            \
    X(StudyDescription, 0x0008, 0x1030, LO) X(SeriesDescription, 0x0008, 0x103E, LO)           \
    X(InstitutionalDepartmentName, 0x0008, 0x1040, LO)                                          \
    X(PerformingPhysicianName, 0x0008, 0x1050, PN) X(OperatorsName, 0x0008, 0x1070, PN)        \
    X(AdmittingDiagnosesDescription, 0x0008, 0x1080, LO)                                        \
    X(ManufacturerModelName, 0x0008, 0x1090, LO) X(AnatomicRegionSequence, 0x0008, 0x2218, SQ) \
    X(PatientName, 0x0010, 0x0010, PN) X(PatientID, 0x0010, 0x0020, LO)                        \
    X(IssuerOfPatientID, 0x0010, 0x0021, LO) X(TypeOfPatientID, 0x0010, 0x0022, CS)            \
    X(PatientBirthDate, 0x0010, 0x0030, DA) X(PatientSex, 0x0010, 0x0040, CS)                  \
    X(OtherPatientIDs, 0x0010, 0x1000, LO) X(OtherPatientIDsSequence, 0x0010, 0x1002, SQ)      \
    X(PatientAge, 0x0010, 0x1010, AS) X(PatientSize, 0x0010, 0x1020, DS)                       \
    X(PatientWeight, 0x0010, 0x1030, DS) X(PatientAddress, 0x0010, 0x1040, LO)                 \
    X(PatientTelephoneNumbers, 0x0010, 0x2154, SH) X(SmokingStatus, 0x0010, 0x21A0, CS)        \
    X(AdditionalPatientHistory, 0x0010, 0x21B0, LT)                                             \
    X(ContrastBolusAgent, 0x0018, 0x0010, LO) X(BodyPartExamined, 0x0018, 0x0015, CS)          \
    X(ScanningSequence, 0x0018, 0x0020, CS) X(SequenceVariant, 0x0018, 0x0021, CS)             \
    X(ScanOptions, 0x0018, 0x0022, CS) X(MRAcquisitionType, 0x0018, 0x0023, CS)                \
    X(SequenceName, 0x0018, 0x0024, SH) X(Radiopharmaceutical, 0x0018, 0x0031, LO)             \
    X(SliceThickness, 0x0018, 0x0050, DS) X(KVP, 0x0018, 0x0060, DS)                           \
    X(RepetitionTime, 0x0018, 0x0080, DS) X(EchoTime, 0x0018, 0x0081, DS)                      \
    X(InversionTime, 0x0018, 0x0082, DS) X(NumberOfAverages, 0x0018, 0x0083, DS)               \
    X(ImagingFrequency, 0x0018, 0x0084, DS) X(ImagedNucleus, 0x0018, 0x0085, SH)               \
    X(EchoNumbers, 0x0018, 0x0086, IS) X(MagneticFieldStrength, 0x0018, 0x0087, DS)            \
    X(SpacingBetweenSlices, 0x0018, 0x0088, DS)                                                 \
    X(NumberOfPhaseEncodingSteps, 0x0018, 0x0089, IS)                                           \
    X(DataCollectionDiameter, 0x0018, 0x0090, DS) X(EchoTrainLength, 0x0018, 0x0091, IS)       \
    X(PercentSampling, 0x0018, 0x0093, DS) X(PercentPhaseFieldOfView, 0x0018, 0x0094, DS)      \
    X(PixelBandwidth, 0x0018, 0x0095, DS) X(DeviceSerialNumber, 0x0018, 0x1000, LO)            \
    X(PlateID, 0x0018, 0x1004, LO) X(SoftwareVersions, 0x0018, 0x1020, LO)                     \
    X(ProtocolName, 0x0018, 0x1030, LO) X(ContrastBolusRoute, 0x0018, 0x1040, LO)              \
    X(ContrastBolusVolume, 0x0018, 0x1041, DS)                                                  \
    X(RadiopharmaceuticalStartTime, 0x0018, 0x1072, TM)                                         \
    X(RadionuclideTotalDose, 0x0018, 0x1074, DS) X(RadionuclideHalfLife, 0x0018, 0x1075, DS)   \
    X(RadionuclidePositronFraction, 0x0018, 0x1076, DS)                                         \
    X(RadiopharmaceuticalStartDateTime, 0x0018, 0x1078, DT)                                     \
    X(ReconstructionDiameter, 0x0018, 0x1100, DS)                                               \
    X(DistanceSourceToDetector, 0x0018, 0x1110, DS)                                             \
    X(DistanceSourceToPatient, 0x0018, 0x1111, DS) X(GantryDetectorTilt, 0x0018, 0x1120, DS)   \
    X(TableHeight, 0x0018, 0x1130, DS) X(RotationDirection, 0x0018, 0x1140, CS)                \
    X(ExposureTime, 0x0018, 0x1150, IS) X(XRayTubeCurrent, 0x0018, 0x1151, IS)                 \
    X(Exposure, 0x0018, 0x1152, IS) X(FilterType, 0x0018, 0x1160, SH)                          \
    X(ImagerPixelSpacing, 0x0018, 0x1164, DS) X(GeneratorPower, 0x0018, 0x1170, IS)            \
    X(CollimatorType, 0x0018, 0x1181, CS) X(FocalSpots, 0x0018, 0x1190, DS)                    \
    X(AnodeTargetMaterial, 0x0018, 0x1191, CS) X(BodyPartThickness, 0x0018, 0x11A0, DS)        \
    X(CompressionForce, 0x0018, 0x11A2, DS) X(ConvolutionKernel, 0x0018, 0x1210, SH)           \
    X(ActualFrameDuration, 0x0018, 0x1242, IS) X(ReceiveCoilName, 0x0018, 0x1250, SH)          \
    X(TransmitCoilName, 0x0018, 0x1251, SH) X(PlateType, 0x0018, 0x1260, SH)                   \
    X(PhosphorType, 0x0018, 0x1261, LO) X(AcquisitionMatrix, 0x0018, 0x1310, US)               \
    X(InPlanePhaseEncodingDirection, 0x0018, 0x1312, CS) X(FlipAngle, 0x0018, 0x1314, DS)      \
    X(SAR, 0x0018, 0x1316, DS) X(AcquisitionDeviceProcessingDescription, 0x0018, 0x1400, LO)   \
    X(RelativeXRayExposure, 0x0018, 0x1405, IS) X(PositionerType, 0x0018, 0x1508, CS)          \
    X(TransducerData, 0x0018, 0x5010, LO) X(ProcessingFunction, 0x0018, 0x5020, LO)            \
    X(MechanicalIndex, 0x0018, 0x5022, DS) X(SoftTissueThermalIndex, 0x0018, 0x5027, DS)       \
    X(DepthOfScanField, 0x0018, 0x5050, IS) X(PatientPosition, 0x0018, 0x5100, CS)             \
    X(ViewPosition, 0x0018, 0x5101, CS) X(TransducerType, 0x0018, 0x6031, CS)                  \
    X(DetectorType, 0x0018, 0x7004, CS) X(FilterMaterial, 0x0018, 0x7050, CS)                  \
    X(CTDIvol, 0x0018, 0x9345, FD) X(CTDIPhantomTypeCodeSequence, 0x0018, 0x9346, SQ)          \
    X(StudyInstanceUID, 0x0020, 0x000D, UI)                     \
    X(SeriesInstanceUID, 0x0020, 0x000E, UI) X(StudyID, 0x0020, 0x0010, SH)                    \
    X(SeriesNumber, 0x0020, 0x0011, IS) X(AcquisitionNumber, 0x0020, 0x0012, IS)               \
    X(InstanceNumber, 0x0020, 0x0013, IS) X(PatientOrientation, 0x0020, 0x0020, CS)            \
    X(ImagePositionPatient, 0x0020, 0x0032, DS) X(ImageOrientationPatient, 0x0020, 0x0037, DS) \
    X(FrameOfReferenceUID, 0x0020, 0x0052, UI) X(Laterality, 0x0020, 0x0060, CS)               \
    X(ImageLaterality, 0x0020, 0x0062, CS) X(PositionReferenceIndicator, 0x0020, 0x1040, LO)   \
    X(SliceLocation, 0x0020, 0x1041, DS) X(ImageComments, 0x0020, 0x4000, LT)                  \
    X(SamplesPerPixel, 0x0028, 0x0002, US) X(PhotometricInterpretation, 0x0028, 0x0004, CS)    \
    X(PlanarConfiguration, 0x0028, 0x0006, US) X(Rows, 0x0028, 0x0010, US)                     \
    X(Columns, 0x0028, 0x0011, US) X(UltrasoundColorDataPresent, 0x0028, 0x0014, US)           \
    X(PixelSpacing, 0x0028, 0x0030, DS) X(CorrectedImage, 0x0028, 0x0051, CS)                  \
    X(BitsAllocated, 0x0028, 0x0100, US) X(BitsStored, 0x0028, 0x0101, US)                     \
    X(HighBit, 0x0028, 0x0102, US) X(PixelRepresentation, 0x0028, 0x0103, US)                  \
    X(PixelPaddingValue, 0x0028, 0x0120, SS) X(BurnedInAnnotation, 0x0028, 0x0301, CS)         \
    X(BreastImplantPresent, 0x0028, 0x1300, CS)                                                 \
    X(PixelIntensityRelationship, 0x0028, 0x1040, CS)                                           \
    X(PixelIntensityRelationshipSign, 0x0028, 0x1041, SS) X(WindowCenter, 0x0028, 0x1050, DS)  \
    X(WindowWidth, 0x0028, 0x1051, DS) X(RescaleIntercept, 0x0028, 0x1052, DS)                 \
    X(RescaleSlope, 0x0028, 0x1053, DS) X(RescaleType, 0x0028, 0x1054, LO)                     \
    X(WindowCenterWidthExplanation, 0x0028, 0x1055, LO)                                         \
    X(LossyImageCompression, 0x0028, 0x2110, CS)                                                \
    X(RequestedProcedureDescription, 0x0032, 0x1060, LO)                                        \
    X(ScheduledProcedureStepID, 0x0040, 0x0009, SH)                                             \
    X(PerformedProcedureStepStartDate, 0x0040, 0x0244, DA)                                      \
    X(PerformedProcedureStepStartTime, 0x0040, 0x0245, TM)                                      \
    X(PerformedProcedureStepID, 0x0040, 0x0253, SH)                                             \
    X(PerformedProcedureStepDescription, 0x0040, 0x0254, LO)                                    \
    X(RequestAttributesSequence, 0x0040, 0x0275, SQ) X(OrganDose, 0x0040, 0x0316, DS)          \
    X(OrganExposed, 0x0040, 0x0318, CS) X(AcquisitionContextSequence, 0x0040, 0x0555, SQ)      \
    X(RequestedProcedureID, 0x0040, 0x1001, SH) X(EntranceDoseInmGy, 0x0040, 0x8302, DS)       \
    X(RadiopharmaceuticalInformationSequence, 0x0054, 0x0016, SQ)                               \
    X(NumberOfSlices, 0x0054, 0x0081, US) X(ViewCodeSequence, 0x0054, 0x0220, SQ)              \
    X(ViewModifierCodeSequence, 0x0054, 0x0222, SQ)                                             \
    X(RadionuclideCodeSequence, 0x0054, 0x0300, SQ)                                             \
    X(RadiopharmaceuticalCodeSequence, 0x0054, 0x0304, SQ)                                      \
    X(PatientOrientationCodeSequence, 0x0054, 0x0410, SQ)                                       \
    X(PatientGantryRelationshipCodeSequence, 0x0054, 0x0414, SQ)                                \
    X(SeriesType, 0x0054, 0x1000, CS) X(Units, 0x0054, 0x1001, CS)                             \
    X(CountsSource, 0x0054, 0x1002, CS) X(RandomsCorrectionMethod, 0x0054, 0x1100, CS)         \
    X(AttenuationCorrectionMethod, 0x0054, 0x1101, LO) X(DecayCorrection, 0x0054, 0x1102, CS)  \
    X(ReconstructionMethod, 0x0054, 0x1103, LO) X(ScatterCorrectionMethod, 0x0054, 0x1105, LO) \
    X(FrameReferenceTime, 0x0054, 0x1300, DS) X(DecayFactor, 0x0054, 0x1321, DS)               \
    X(DoseCalibrationFactor, 0x0054, 0x1322, DS) X(ScatterFractionFactor, 0x0054, 0x1323, DS)  \
    X(DeadTimeFactor, 0x0054, 0x1324, DS) X(ImageIndex, 0x0054, 0x1330, US)                    \
    X(PresentationLUTShape, 0x2050, 0x0020, CS) X(PixelData, 0x7FE0, 0x0010, OW)

enum attr {
#define ATTR_ENUM(k, g, e, vr) A_##k,
    ATTRS(ATTR_ENUM)
#undef ATTR_ENUM
    A_COUNT
};

static const struct attr_info {
    const char *keyword;
    uint32_t tag;
    obia_vr vr;
} attrs[A_COUNT] = {
#define ATTR_ROW(k, g, e, vr) {#k, OBIA_TAG(g, e), OBIA_VR_##vr},
    ATTRS(ATTR_ROW)
#undef ATTR_ROW
};

/* The private block written into every image. */
#define PRIVATE_GROUP 0x0009
#define PRIVATE_CREATOR "SYNTH PRIVATE 1"

/* ---- modalities ------------------------------------------------------------------ */

typedef enum modality { M_CT, M_MR, M_CR, M_DX, M_US, M_MG, M_PT, M_COUNT } modality;

static const struct modality_info {
    const char *name;
    const char *sop_class;
    unsigned rows, columns;    /* default image size */
    unsigned images;           /* default images per series; 0: 1 or 2 */
    const char *department;
} modalities[M_COUNT] = {
    [M_CT] = {"CT", "1.2.840.10008.5.1.4.1.1.2", 256, 256, 20, "Radiology"},
    [M_MR] = {"MR", "1.2.840.10008.5.1.4.1.1.4", 256, 256, 15, "Radiology"},
    [M_CR] = {"CR", "1.2.840.10008.5.1.4.1.1.1", 512, 512, 0, "Radiology"},
    [M_DX] = {"DX", "1.2.840.10008.5.1.4.1.1.1.1", 512, 512, 0, "Radiology"},
    [M_US] = {"US", "1.2.840.10008.5.1.4.1.1.6.1", 240, 320, 0, "Ultrasound"},
    [M_MG] = {"MG", "1.2.840.10008.5.1.4.1.1.1.2", 512, 512, 0, "Breast Imaging"},
    [M_PT] = {"PT", "1.2.840.10008.5.1.4.1.1.128", 256, 256, 10, "Nuclear Medicine"},
};

/* ---- phantoms ---------------------------------------------------------------------
 * A phantom is a list of ellipses painted in order, in units of half the
 * image's smaller side, y downwards, present from slice fraction z0 to z1
 * and shrinking towards both ends like an ellipsoid. */

typedef enum tissue {
    T_AIR, T_FAT, T_SOFT, T_MUSCLE, T_FLUID, T_BONE, T_LUNG, T_BRAIN, T_LIVER, T_LESION, T_BLOOD,
    T_COUNT
} tissue;

typedef enum contrast {
    C_CT, C_T1, C_T2, C_FLAIR, C_DWI, C_PD, C_PT, C_XR, C_MG, C_US, C_COUNT
} contrast;

/* Tissue values: HU for CT, SUV x 100 for PET, stored values otherwise. */
static const int tissue_value[C_COUNT][T_COUNT] = {
    /*           AIR   FAT  SOFT MUSCLE FLUID BONE LUNG BRAIN LIVER LESION BLOOD */
    [C_CT]    = {-1000, -100, 40, 55, 8, 800, -840, 32, 62, 95, 160},
    [C_T1]    = {0, 1500, 700, 550, 220, 1100, 30, 850, 800, 500, 1200},
    [C_T2]    = {0, 1200, 800, 400, 2200, 500, 40, 1000, 450, 1600, 350},
    [C_FLAIR] = {0, 900, 700, 380, 120, 400, 30, 950, 420, 1700, 300},
    [C_DWI]   = {0, 150, 350, 250, 120, 100, 10, 450, 300, 1400, 100},
    [C_PD]    = {0, 1500, 1100, 600, 1800, 900, 40, 1200, 700, 1500, 700},
    [C_PT]    = {0, 30, 90, 80, 60, 150, 40, 800, 250, 1200, 180},
    [C_XR]    = {150, 1300, 1700, 1800, 1750, 3300, 700, 1900, 1900, 2300, 1800},
    [C_MG]    = {80, 1400, 2300, 2600, 2000, 3500, 1000, 2000, 2000, 3100, 2300},
    [C_US]    = {0, 95, 115, 75, 12, 220, 200, 100, 130, 55, 18},
};

typedef struct shape {
    tissue t;
    float cx, cy, rx, ry, z0, z1;
} shape;

#define SHAPES(...) (const shape[]){__VA_ARGS__}, COUNT(((const shape[]){__VA_ARGS__}))

typedef enum phantom_kind {
    PH_HEAD, PH_CHEST, PH_ABDOMEN, PH_PELVIS, PH_BREAST, PH_NECK, PH_CHEST_PA, PH_PELVIS_AP,
    PH_HAND, PH_FOOT, PH_KNEE, PH_SPINE, PH_MAMMO, PH_COUNT
} phantom_kind;

static const struct phantom {
    const shape *shapes;
    size_t n;
} phantoms[PH_COUNT] = {
    [PH_HEAD] = {SHAPES({T_SOFT, 0, 0, .80f, .94f, 0, 1}, {T_BONE, 0, 0, .76f, .90f, 0, 1},
                        {T_BRAIN, 0, 0, .70f, .84f, 0, 1},
                        {T_FLUID, -.13f, -.05f, .06f, .22f, .3f, .8f},
                        {T_FLUID, .13f, -.05f, .06f, .22f, .3f, .8f},
                        {T_FLUID, 0, .12f, .04f, .05f, .1f, .45f},
                        {T_FAT, 0, -.9f, .2f, .03f, 0, .6f})},
    [PH_CHEST] = {SHAPES({T_FAT, 0, 0, .92f, .64f, 0, 1}, {T_MUSCLE, 0, .02f, .84f, .57f, 0, 1},
                         {T_LUNG, -.42f, -.04f, .32f, .44f, 0, 1},
                         {T_LUNG, .42f, -.04f, .32f, .44f, 0, 1},
                         {T_BLOOD, .12f, .08f, .24f, .24f, .25f, 1},
                         {T_BLOOD, -.06f, .28f, .07f, .07f, 0, 1},
                         {T_BONE, 0, .46f, .10f, .09f, 0, 1}, {T_FLUID, 0, .46f, .04f, .04f, 0, 1},
                         {T_BONE, 0, -.52f, .08f, .03f, 0, 1},
                         {T_BONE, -.80f, 0, .04f, .05f, 0, 1}, {T_BONE, .80f, 0, .04f, .05f, 0, 1})},
    [PH_ABDOMEN] = {SHAPES({T_FAT, 0, 0, .92f, .66f, 0, 1}, {T_MUSCLE, 0, .02f, .84f, .58f, 0, 1},
                           {T_SOFT, 0, 0, .78f, .52f, 0, 1},
                           {T_LIVER, -.38f, -.08f, .40f, .36f, 0, .9f},
                           {T_SOFT, .45f, -.15f, .18f, .14f, .2f, .8f},
                           {T_FLUID, .25f, -.28f, .18f, .13f, .4f, 1},
                           {T_SOFT, -.38f, .32f, .11f, .15f, .2f, .8f},
                           {T_SOFT, .38f, .32f, .11f, .15f, .2f, .8f},
                           {T_BLOOD, .04f, .28f, .05f, .05f, 0, 1},
                           {T_BONE, 0, .44f, .11f, .10f, 0, 1}, {T_FLUID, 0, .44f, .04f, .04f, 0, 1})},
    [PH_PELVIS] = {SHAPES({T_FAT, 0, 0, .92f, .62f, 0, 1}, {T_MUSCLE, 0, .02f, .84f, .54f, 0, 1},
                          {T_SOFT, 0, 0, .60f, .40f, 0, 1},
                          {T_FLUID, 0, -.22f, .20f, .15f, .2f, .9f},
                          {T_SOFT, 0, .12f, .12f, .10f, 0, .8f},
                          {T_BONE, -.56f, .08f, .14f, .22f, 0, 1}, {T_BONE, .56f, .08f, .14f, .22f, 0, 1},
                          {T_BONE, 0, .42f, .16f, .08f, 0, .7f}, {T_SOFT, 0, .30f, .07f, .06f, 0, 1})},
    [PH_BREAST] = {SHAPES({T_FAT, 0, .25f, .95f, .45f, 0, 1}, {T_MUSCLE, 0, .35f, .90f, .30f, 0, 1},
                          {T_FAT, -.45f, -.20f, .35f, .38f, 0, 1}, {T_FAT, .45f, -.20f, .35f, .38f, 0, 1},
                          {T_SOFT, -.45f, -.25f, .20f, .20f, .1f, .9f},
                          {T_SOFT, .45f, -.25f, .20f, .20f, .1f, .9f},
                          {T_LUNG, -.35f, .45f, .25f, .15f, 0, 1}, {T_LUNG, .35f, .45f, .25f, .15f, 0, 1},
                          {T_BLOOD, 0, .45f, .12f, .10f, 0, 1})},
    [PH_NECK] = {SHAPES({T_FAT, 0, 0, .90f, .80f, 0, 1}, {T_MUSCLE, 0, 0, .80f, .70f, 0, 1},
                        {T_SOFT, -.25f, -.10f, .20f, .15f, 0, 1}, {T_SOFT, .25f, -.10f, .20f, .15f, 0, 1},
                        {T_AIR, 0, -.15f, .08f, .08f, 0, 1}, {T_BLOOD, -.55f, 0, .08f, .08f, 0, 1},
                        {T_BLOOD, .55f, 0, .08f, .08f, 0, 1}, {T_BONE, 0, .45f, .15f, .13f, 0, 1})},
    [PH_CHEST_PA] = {SHAPES({T_SOFT, 0, .10f, .85f, .95f, 0, 1},
                            {T_LUNG, -.38f, -.05f, .30f, .62f, 0, 1},
                            {T_LUNG, .38f, -.05f, .30f, .62f, 0, 1},
                            {T_MUSCLE, .12f, .30f, .28f, .25f, 0, 1}, {T_BONE, 0, .10f, .07f, .95f, 0, 1},
                            {T_BONE, -.35f, -.72f, .30f, .04f, 0, 1}, {T_BONE, .35f, -.72f, .30f, .04f, 0, 1})},
    [PH_PELVIS_AP] = {SHAPES({T_SOFT, 0, 0, .95f, .80f, 0, 1},
                             {T_BONE, -.45f, -.25f, .35f, .30f, 0, 1},
                             {T_BONE, .45f, -.25f, .35f, .30f, 0, 1},
                             {T_SOFT, -.45f, -.10f, .15f, .10f, 0, 1}, {T_SOFT, .45f, -.10f, .15f, .10f, 0, 1},
                             {T_BONE, -.50f, .35f, .12f, .12f, 0, 1}, {T_BONE, .50f, .35f, .12f, .12f, 0, 1},
                             {T_BONE, -.55f, .75f, .08f, .30f, 0, 1}, {T_BONE, .55f, .75f, .08f, .30f, 0, 1},
                             {T_BONE, 0, -.10f, .15f, .30f, 0, 1})},
    [PH_HAND] = {SHAPES({T_SOFT, 0, .45f, .45f, .40f, 0, 1}, {T_SOFT, -.36f, -.25f, .08f, .38f, 0, 1},
                        {T_SOFT, -.12f, -.35f, .08f, .45f, 0, 1}, {T_SOFT, .12f, -.33f, .08f, .43f, 0, 1},
                        {T_SOFT, .35f, -.20f, .08f, .35f, 0, 1}, {T_SOFT, .60f, .25f, .09f, .30f, 0, 1},
                        {T_BONE, -.36f, -.25f, .035f, .34f, 0, 1}, {T_BONE, -.12f, -.35f, .035f, .40f, 0, 1},
                        {T_BONE, .12f, -.33f, .035f, .38f, 0, 1}, {T_BONE, .35f, -.20f, .035f, .30f, 0, 1},
                        {T_BONE, .60f, .25f, .04f, .25f, 0, 1}, {T_BONE, -.2f, .5f, .05f, .25f, 0, 1},
                        {T_BONE, .05f, .5f, .05f, .25f, 0, 1}, {T_BONE, .28f, .5f, .05f, .25f, 0, 1})},
    [PH_FOOT] = {SHAPES({T_SOFT, 0, 0, .35f, .92f, 0, 1}, {T_BONE, 0, .60f, .20f, .25f, 0, 1},
                        {T_BONE, 0, .12f, .20f, .20f, 0, 1}, {T_BONE, -.15f, -.40f, .04f, .30f, 0, 1},
                        {T_BONE, -.05f, -.45f, .04f, .32f, 0, 1}, {T_BONE, .05f, -.45f, .04f, .32f, 0, 1},
                        {T_BONE, .15f, -.40f, .04f, .30f, 0, 1})},
    [PH_KNEE] = {SHAPES({T_FAT, 0, 0, .50f, .98f, 0, 1}, {T_MUSCLE, 0, 0, .42f, .95f, 0, 1},
                        {T_BONE, 0, -.50f, .20f, .50f, 0, 1}, {T_BONE, 0, .52f, .18f, .48f, 0, 1},
                        {T_FLUID, 0, 0, .22f, .035f, 0, 1}, {T_BONE, .30f, -.08f, .06f, .10f, .2f, .8f},
                        {T_BONE, -.25f, .60f, .05f, .35f, .1f, .6f})},
    [PH_SPINE] = {SHAPES({T_FAT, 0, 0, .90f, .98f, 0, 1}, {T_MUSCLE, 0, 0, .80f, .96f, 0, 1},
                         {T_BONE, .1f, -.75f, .16f, .08f, 0, 1}, {T_FLUID, .1f, -.625f, .15f, .03f, 0, 1},
                         {T_BONE, .1f, -.50f, .16f, .08f, 0, 1}, {T_FLUID, .1f, -.375f, .15f, .03f, 0, 1},
                         {T_BONE, .1f, -.25f, .16f, .08f, 0, 1}, {T_FLUID, .1f, -.125f, .15f, .03f, 0, 1},
                         {T_BONE, .1f, 0, .16f, .08f, 0, 1}, {T_FLUID, .1f, .125f, .15f, .03f, 0, 1},
                         {T_BONE, .1f, .25f, .16f, .08f, 0, 1}, {T_FLUID, .1f, .375f, .15f, .03f, 0, 1},
                         {T_BONE, .1f, .50f, .16f, .08f, 0, 1}, {T_FLUID, .1f, .625f, .15f, .03f, 0, 1},
                         {T_BONE, .1f, .75f, .16f, .08f, 0, 1}, {T_FLUID, -.12f, 0, .04f, .95f, .2f, .8f})},
    [PH_MAMMO] = {SHAPES({T_FAT, 1.0f, 0, 1.35f, .95f, 0, 1}, {T_SOFT, .55f, 0, .60f, .55f, 0, 1},
                         {T_SOFT, .25f, .10f, .30f, .20f, 0, 1}, {T_SOFT, .70f, -.35f, .25f, .15f, 0, 1},
                         {T_MUSCLE, 1.0f, -.90f, .30f, .50f, 0, 1})},
};

/* ---- exams --------------------------------------------------------------------- */

enum disease {
    D_ENDOMETRIAL, D_OVARIAN, D_CERVICAL, D_LUNG, D_GLIOMA, D_BREAST, D_HCC, D_HEALTHY, D_COUNT
};
#define DB(d) (1u << (d))
#define D_GYN (DB(D_ENDOMETRIAL) | DB(D_OVARIAN) | DB(D_CERVICAL))

typedef enum plane { P_AXIAL, P_SAGITTAL, P_CORONAL } plane;

typedef enum mr_seq {
    MS_T1_SE, MS_T2_TSE, MS_FLAIR, MS_DWI, MS_T1_3D, MS_PD_FS, MS_T2_FS, MS_T1_VIBE, MS_STIR,
    MS_COUNT
} mr_seq;

typedef struct series_plan {
    uint8_t kind;    /* mr_seq for MR, ct_kind for CT */
    plane pl;
} series_plan;

typedef struct view {
    const char *position;      /* ViewPosition */
    const char *orientation;   /* PatientOrientation */
} view;

typedef struct exam {
    modality mod;
    const char *body_part;
    const char *description;
    phantom_kind ph;
    float fov;                 /* mm across the image */
    bool paired;               /* needs a laterality */
    bool contrast;
    unsigned diseases;         /* typically imaged so */
    const char *code, *meaning;  /* SNOMED CT anatomic region */
    const char *us_type;       /* US Image Type value 3 */
    series_plan series[4];
    unsigned nseries;
    view views[2];
    unsigned nviews;
} exam;

enum ct_kind { CK_SOFT5, CK_SOFT125, CK_BONE, CK_LUNG, CK_BRAIN5, CK_BRAIN25, CK_HEADBONE, CK_AC };

static const struct ct_kind_info {
    const char *description;
    double thickness;
    const char *kernel;
    int wc, ww;
    const char *window;
} ct_kinds[] = {
    [CK_SOFT5] = {"AXIAL 5.0 SOFT TISSUE", 5, "STANDARD", 40, 400, "SOFT TISSUE"},
    [CK_SOFT125] = {"AXIAL 1.25 SOFT TISSUE", 1.25, "STANDARD", 40, 400, "SOFT TISSUE"},
    [CK_BONE] = {"AXIAL 1.25 BONE", 1.25, "BONE", 400, 1800, "BONE"},
    [CK_LUNG] = {"AXIAL 1.25 LUNG", 1.25, "LUNG", -600, 1500, "LUNG"},
    [CK_BRAIN5] = {"AXIAL 5.0 BRAIN", 5, "SOFT", 40, 80, "BRAIN"},
    [CK_BRAIN25] = {"AXIAL 2.5 BRAIN", 2.5, "SOFT", 40, 80, "BRAIN"},
    [CK_HEADBONE] = {"AXIAL 0.625 BONE", 0.625, "BONE", 600, 2800, "BONE"},
    [CK_AC] = {"CT AC 3.75 WHOLE BODY", 3.75, "STANDARD", 40, 400, "SOFT TISSUE"},
};

static const struct mr_seq_info {
    const char *description;
    const char *scanning, *variant, *options, *acquisition, *name;
    double tr, te, ti, flip;
    int etl;
    contrast c;
} mr_seqs[MS_COUNT] = {
    [MS_T1_SE] = {"T1 SE", "SE", "SP", "", "2D", "se2d1", 550, 12, 0, 90, 1, C_T1},
    [MS_T2_TSE] = {"T2 TSE", "SE", "SK\\SP", "", "2D", "tse2d1_15", 4200, 98, 0, 150, 15, C_T2},
    [MS_FLAIR] = {"T2 FLAIR", "SE\\IR", "SK\\SP\\MP", "", "2D", "tir2d1_16", 9000, 85, 2500, 150, 16,
                  C_FLAIR},
    [MS_DWI] = {"DWI b0 b1000", "EP", "SK\\SP", "FS", "2D", "ep_b1000t", 5200, 78, 0, 90, 63, C_DWI},
    [MS_T1_3D] = {"T1 MPRAGE POST", "GR\\IR", "SK\\SP\\MP", "", "3D", "tfl3d1", 2300, 2.98, 900, 9, 1,
                  C_T1},
    [MS_PD_FS] = {"PD TSE FS", "SE", "SK\\SP", "FS", "2D", "tse2d1_7", 3200, 30, 0, 150, 7, C_PD},
    [MS_T2_FS] = {"T2 TSE FS", "SE", "SK\\SP", "FS", "2D", "tse2d1_15", 4800, 80, 0, 150, 15, C_T2},
    [MS_T1_VIBE] = {"T1 VIBE FS", "GR", "SP\\SS", "FS", "3D", "fl3d1", 4.1, 1.9, 0, 12, 1, C_T1},
    [MS_STIR] = {"STIR", "IR", "SK\\SP\\MP", "", "2D", "tir2d1_13", 5000, 60, 150, 150, 13, C_T2},
};

#define SER(...) {__VA_ARGS__}, COUNT(((const series_plan[]){__VA_ARGS__}))
#define VIEWS(...) {__VA_ARGS__}, COUNT(((const view[]){__VA_ARGS__}))
#define NOVIEWS {{NULL, NULL}}, 0
#define ANY_DISEASE 0

static const exam exams[] = {
    {M_CT, "CHEST", "CT CHEST WITH CONTRAST", PH_CHEST, 360, false, true, DB(D_LUNG) | DB(D_BREAST),
     "51185008", "Chest", NULL, SER({CK_SOFT5, P_AXIAL}, {CK_LUNG, P_AXIAL}, {CK_BONE, P_AXIAL}),
     NOVIEWS},
    {M_CT, "ABDOMEN", "CT ABDOMEN AND PELVIS WITH CONTRAST", PH_ABDOMEN, 380, false, true,
     DB(D_HCC) | D_GYN, "113345001", "Abdomen", NULL,
     SER({CK_SOFT5, P_AXIAL}, {CK_SOFT125, P_AXIAL}, {CK_BONE, P_AXIAL}), NOVIEWS},
    {M_CT, "HEAD", "CT HEAD WITHOUT CONTRAST", PH_HEAD, 240, false, false, DB(D_GLIOMA), "69536005",
     "Head", NULL, SER({CK_BRAIN5, P_AXIAL}, {CK_HEADBONE, P_AXIAL}, {CK_BRAIN25, P_AXIAL}), NOVIEWS},
    {M_CT, "PELVIS", "CT PELVIS WITH CONTRAST", PH_PELVIS, 380, false, true, D_GYN, "12921003",
     "Pelvis", NULL, SER({CK_SOFT5, P_AXIAL}, {CK_SOFT125, P_AXIAL}, {CK_BONE, P_AXIAL}), NOVIEWS},
    {M_MR, "BRAIN", "MRI BRAIN WITH AND WITHOUT CONTRAST", PH_HEAD, 230, false, true, DB(D_GLIOMA),
     "12738006", "Brain", NULL,
     SER({MS_T1_SE, P_AXIAL}, {MS_T2_TSE, P_AXIAL}, {MS_FLAIR, P_AXIAL}, {MS_T1_3D, P_AXIAL}),
     NOVIEWS},
    {M_MR, "KNEE", "MRI KNEE WITHOUT CONTRAST", PH_KNEE, 160, true, false, ANY_DISEASE, "72696002",
     "Knee", NULL, SER({MS_PD_FS, P_SAGITTAL}, {MS_T1_SE, P_CORONAL}, {MS_T2_FS, P_SAGITTAL}),
     NOVIEWS},
    {M_MR, "LSPINE", "MRI LUMBAR SPINE WITHOUT CONTRAST", PH_SPINE, 280, false, false, ANY_DISEASE,
     "122496007", "Lumbar spine", NULL,
     SER({MS_T2_TSE, P_SAGITTAL}, {MS_T1_SE, P_SAGITTAL}, {MS_STIR, P_SAGITTAL}), NOVIEWS},
    {M_MR, "PELVIS", "MRI PELVIS WITH AND WITHOUT CONTRAST", PH_PELVIS, 300, false, true, D_GYN,
     "12921003", "Pelvis", NULL,
     SER({MS_T2_TSE, P_AXIAL}, {MS_DWI, P_AXIAL}, {MS_T1_VIBE, P_AXIAL}, {MS_T2_TSE, P_SAGITTAL}),
     NOVIEWS},
    {M_MR, "BREAST", "MRI BREAST BILATERAL WITH AND WITHOUT CONTRAST", PH_BREAST, 340, false, true,
     DB(D_BREAST), "76752008", "Breast", NULL,
     SER({MS_T1_VIBE, P_AXIAL}, {MS_STIR, P_AXIAL}, {MS_DWI, P_AXIAL}), NOVIEWS},
    {M_MR, "ABDOMEN", "MRI ABDOMEN LIVER PROTOCOL", PH_ABDOMEN, 380, false, true, DB(D_HCC),
     "113345001", "Abdomen", NULL,
     SER({MS_T2_TSE, P_AXIAL}, {MS_DWI, P_AXIAL}, {MS_T1_VIBE, P_AXIAL}), NOVIEWS},
    {M_PT, "WHOLEBODY", "PET/CT FDG SKULL BASE TO MID-THIGH", PH_CHEST, 600, false, false,
     DB(D_LUNG) | DB(D_BREAST) | D_GYN | DB(D_HCC), "38266002", "Entire body", NULL,
     SER({0, P_AXIAL}), NOVIEWS},
    {M_PT, "BRAIN", "PET BRAIN FDG", PH_HEAD, 300, false, false, DB(D_GLIOMA), "12738006", "Brain",
     NULL, SER({0, P_AXIAL}), NOVIEWS},
    {M_CR, "CHEST", "XR CHEST 2 VIEWS", PH_CHEST_PA, 430, false, false,
     DB(D_LUNG) | DB(D_BREAST) | DB(D_HEALTHY), "51185008", "Chest", NULL, SER({0, P_AXIAL}),
     VIEWS({"PA", "L\\F"}, {"LL", "A\\F"})},
    {M_CR, "HAND", "XR HAND 2 VIEWS", PH_HAND, 240, true, false, ANY_DISEASE, "85562004", "Hand",
     NULL, SER({0, P_AXIAL}), VIEWS({"PA", "L\\F"}, {"LL", "A\\F"})},
    {M_CR, "PELVIS", "XR PELVIS AP", PH_PELVIS_AP, 430, false, false, D_GYN, "12921003", "Pelvis",
     NULL, SER({0, P_AXIAL}), VIEWS({"AP", "L\\F"})},
    {M_DX, "CHEST", "DX CHEST PA AND LATERAL", PH_CHEST_PA, 430, false, false,
     DB(D_LUNG) | DB(D_HEALTHY), "51185008", "Chest", NULL, SER({0, P_AXIAL}),
     VIEWS({"PA", "L\\F"}, {"LL", "A\\F"})},
    {M_DX, "KNEE", "DX KNEE 2 VIEWS", PH_KNEE, 240, true, false, ANY_DISEASE, "72696002", "Knee",
     NULL, SER({0, P_AXIAL}), VIEWS({"AP", "L\\F"}, {"LL", "A\\F"})},
    {M_DX, "FOOT", "DX FOOT 2 VIEWS", PH_FOOT, 240, true, false, ANY_DISEASE, "56459004", "Foot",
     NULL, SER({0, P_AXIAL}), VIEWS({"AP", "L\\A"}, {"LL", "A\\F"})},
    {M_DX, "LSPINE", "DX LUMBAR SPINE AP AND LATERAL", PH_SPINE, 350, false, false, ANY_DISEASE,
     "122496007", "Lumbar spine", NULL, SER({0, P_AXIAL}), VIEWS({"AP", "L\\F"}, {"LL", "A\\F"})},
    {M_US, "ABDOMEN", "US ABDOMEN COMPLETE", PH_ABDOMEN, 200, false, false, DB(D_HCC), "113345001",
     "Abdomen", "ABDOMINAL", SER({0, P_AXIAL}), NOVIEWS},
    {M_US, "PELVIS", "US PELVIS TRANSABDOMINAL", PH_PELVIS, 200, false, false, D_GYN, "12921003",
     "Pelvis", "PELVIC", SER({0, P_AXIAL}), NOVIEWS},
    {M_US, "BREAST", "US BREAST", PH_BREAST, 120, true, false, DB(D_BREAST), "76752008", "Breast",
     "BREAST", SER({0, P_AXIAL}), NOVIEWS},
    {M_US, "NECK", "US THYROID", PH_NECK, 80, false, false, ANY_DISEASE, "45048000", "Neck",
     "THYROID", SER({0, P_AXIAL}), NOVIEWS},
    {M_MG, "BREAST", "MAMMOGRAPHY SCREENING BILATERAL", PH_MAMMO, 240, true, false, DB(D_HEALTHY),
     "76752008", "Breast", NULL, SER({0, P_AXIAL}), NOVIEWS},
    {M_MG, "BREAST", "MAMMOGRAPHY DIAGNOSTIC BILATERAL", PH_MAMMO, 240, true, false, DB(D_BREAST),
     "76752008", "Breast", NULL, SER({0, P_AXIAL}), NOVIEWS},
};

/* Mammography views: laterality, view, PatientOrientation, SNOMED CT code. */
static const struct mg_view {
    const char *laterality, *position, *orientation, *code, *meaning;
} mg_views[] = {
    {"R", "CC", "P\\L", "399162004", "cranio-caudal"},
    {"L", "CC", "A\\R", "399162004", "cranio-caudal"},
    {"R", "MLO", "P\\F", "399368009", "medio-lateral oblique"},
    {"L", "MLO", "A\\F", "399368009", "medio-lateral oblique"},
};

/* ---- devices ----------------------------------------------------------------------- */

static const struct device_model {
    modality mod;
    const char *manufacturer, *model, *software;
    int variant;   /* CT: 1 signed with padding; MR: field in tenths of T; US: 1 RGB */
} device_models[] = {
    {M_CT, "Helix Medical Systems", "Helix CT 128", "HX-CT 4.2.1", 0},
    {M_CT, "Orion Imaging", "Orion Scope 64", "OS64 2019.3", 1},
    {M_MR, "Helix Medical Systems", "Helix MR 3T", "HX-MR 11.0", 30},
    {M_MR, "Orion Imaging", "Orion Magna 1.5T", "MAGNA R8", 15},
    {M_PT, "Helix Medical Systems", "Helix PET/CT 600", "HX-PET 2.1", 0},
    {M_CR, "Lumen Radiography", "Lumen CR 35", "LCR 3.1", 0},
    {M_DX, "Lumen Radiography", "Lumen DR 4343", "LDR 5.0", 0},
    {M_DX, "Orion Imaging", "Orion DRX", "DRX 2.2", 0},
    {M_US, "Sonora Diagnostics", "Sonora 9", "SN9 1.8.4", 1},
    {M_US, "Sonora Diagnostics", "Sonora Lite", "SNL 2.0", 0},
    {M_MG, "Lumen Radiography", "Lumen Mammo 3D", "LMM 1.4", 0},
};

/* ---- people ----------------------------------------------------------------------------
 * Names are "Latin|Ideographic|Phonetic" (the last two optional), which
 * become the three component groups of a PN value. */

typedef struct culture {
    const char *const *family;
    size_t nfamily;
    const char *const *male;
    size_t nmale;
    const char *const *female;
    size_t nfemale;
    const char *const *streets;
    size_t nstreets;
    const char *const *cities;
    size_t ncities;
    /* Templates: '#' a house number, '@' a street, '&' a city, '~' a digit. */
    const char *address;
    const char *phone;
    const char *other_id;
    bool middle_names;
    bool gendered_family;      /* Polish -ski/-ska */
} culture;

static const culture cultures[] = {
    {LIST("Smith", "Johnson", "Williams", "Brown", "Jones", "Miller", "Davis", "Wilson", "Anderson",
          "Taylor", "Thomas", "Moore", "Jackson", "White"),
     LIST("James", "John", "Robert", "Michael", "William", "David", "Richard", "Joseph", "Daniel"),
     LIST("Mary", "Patricia", "Jennifer", "Linda", "Elizabeth", "Barbara", "Susan", "Jessica",
          "Karen"),
     LIST("Maple Street", "Oak Avenue", "Pine Road", "Cedar Lane", "Elm Street", "Washington Avenue"),
     LIST("Springfield, IL 627", "Riverside, CA 925", "Fairview, OH 441", "Greenville, SC 296"),
     "# @, &~~", "(~~~) 555-01~~", "9~~-~~-~~~~", true, false},
    {LIST("García López", "Rodríguez", "Martínez", "Hernández Ruiz", "López", "González", "Pérez",
          "Sánchez", "Ramírez", "Torres"),
     LIST("José", "Luis", "Carlos", "Jesús", "Andrés", "Miguel", "Javier", "Martín"),
     LIST("María", "Lucía", "Sofía", "Carmen", "Ana", "Isabel", "Inés", "Verónica"),
     LIST("Calle Mayor", "Avenida de la Constitución", "Calle del Olmo", "Paseo de la Castellana"),
     LIST("Madrid 280", "Sevilla 410", "Málaga 290", "Zaragoza 500"), "@ #, &~~",
     "+34 91 ~~~ ~~ ~~", "X~~~~~~~~L", false, false},
    {LIST("Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker",
          "Schäfer", "Koch", "Groß"),
     LIST("Jürgen", "Lukas", "Maximilian", "Stefan", "Thomas", "Jörg", "Matthias"),
     LIST("Sabine", "Ursula", "Käthe", "Lena", "Monika", "Jana", "Brigitte"),
     LIST("Hauptstraße", "Bahnhofstraße", "Lindenweg", "Schillerstraße", "Gartenstraße"),
     LIST("Berlin 101", "München 803", "Köln 506", "Hamburg 201"), "@ #, &~~",
     "+49 30 ~~~~ ~~~~", "L~~~~~~~~", false, false},
    {LIST("Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand",
          "Lefèvre", "Girard"),
     LIST("Jean", "Pierre", "François", "Étienne", "Louis", "Théo"),
     LIST("Hélène", "Chloé", "Élodie", "Camille", "Zoé", "Margaux"),
     LIST("rue de la République", "avenue Victor Hugo", "boulevard Saint-Michel", "rue des Écoles"),
     LIST("Paris 750", "Lyon 690", "Marseille 130", "Toulouse 310"), "# @, &~~",
     "01 ~~ ~~ ~~ ~~", "1 ~~ ~~ ~~ ~~~ ~~~ ~~", false, false},
    {LIST("Sørensen", "Jensen", "Nielsen", "Hansen", "Johansson", "Åberg", "Lindqvist",
          "Østergaard"),
     LIST("Søren", "Lars", "Magnus", "Björn", "Anders", "Henrik"),
     LIST("Åsa", "Ingrid", "Sigrid", "Mette", "Kirsten", "Linnéa"),
     LIST("Storgatan", "Vestergade", "Kongens Gate", "Drottninggatan"),
     LIST("København 21", "Stockholm 114", "Oslo 015", "Aarhus 80"), "@ #, &~~",
     "+45 ~~ ~~ ~~ ~~", "~~~~~~-~~~~", false, false},
    {LIST("Nowak", "Kowalski", "Wiśniewski", "Wójcik", "Kamiński", "Lewandowski", "Zieliński",
          "Szymański"),
     LIST("Łukasz", "Piotr", "Krzysztof", "Tomasz", "Paweł", "Michał"),
     LIST("Małgorzata", "Agnieszka", "Katarzyna", "Zofia", "Anna", "Joanna"),
     LIST("ul. Marszałkowska", "ul. Długa", "ul. Piękna", "ul. Floriańska"),
     LIST("Warszawa 00-", "Kraków 30-", "Gdańsk 80-", "Wrocław 50-"), "@ #, &~~~",
     "+48 22 ~~~ ~~ ~~", "~~~~~~~~~~~", false, true},
    {LIST("Wang|王", "Li|李", "Zhang|张", "Liu|刘", "Chen|陈", "Yang|杨", "Huang|黄", "Zhao|赵"),
     LIST("Wei|伟", "Qiang|强", "Jun|军", "Lei|磊", "Hao|浩", "Ming|明"),
     LIST("Fang|芳", "Na|娜", "Min|敏", "Jing|静", "Li|丽", "Xiuying|秀英"),
     LIST("Zhongshan Road", "Jianguo Road", "Renmin Avenue", "Heping Street"),
     LIST("Beijing 100", "Shanghai 200", "Guangzhou 510", "Chengdu 610"),
     "No. # @, &~~~", "+86 10 ~~~~ ~~~~", "11~~~~~~~~~~~~~~~~", false, false},
    {LIST("Yamada|山田|やまだ", "Suzuki|鈴木|すずき", "Takahashi|高橋|たかはし", "Tanaka|田中|たなか",
          "Watanabe|渡辺|わたなべ", "Sato|佐藤|さとう"),
     LIST("Tarou|太郎|たろう", "Hiroshi|博|ひろし", "Kenji|健二|けんじ", "Takeshi|武|たけし"),
     LIST("Hanako|花子|はなこ", "Yuki|由紀|ゆき", "Akiko|明子|あきこ", "Keiko|恵子|けいこ"),
     LIST("Shibuya", "Shinjuku", "Meguro", "Setagaya"),
     LIST("Tokyo 150-00", "Tokyo 160-00", "Osaka 530-00", "Kyoto 600-80"), "#-1 @, &~~",
     "+81 3 ~~~~ ~~~~", "~~~~-~~~~-~~~~", false, false},
    {LIST("Kim|김", "Lee|이", "Park|박", "Choi|최", "Jung|정"),
     LIST("Minjun|민준", "Seojun|서준", "Jihoon|지훈", "Dohyun|도현"),
     LIST("Seoyeon|서연", "Jiwoo|지우", "Hayoon|하윤", "Soyeon|소연"),
     LIST("Sejong-daero", "Teheran-ro", "Jongno", "Eulji-ro"), LIST("Seoul 04", "Seoul 06", "Busan 48"),
     "# @, &~~~", "+82 2 ~~~~ ~~~~", "~~~~~~-~~~~~~~", false, false},
    {LIST("Patel", "Sharma", "Singh", "Kumar", "Gupta", "Reddy", "Iyer", "Nair"),
     LIST("Arjun", "Rahul", "Vikram", "Sanjay", "Amit", "Rohan"),
     LIST("Priya", "Ananya", "Kavya", "Sunita", "Deepa", "Lakshmi"),
     LIST("MG Road", "Brigade Road", "Anna Salai", "Linking Road"),
     LIST("Bengaluru 560", "Chennai 600", "Mumbai 400", "Pune 411"), "# @, &~~~",
     "+91 80 ~~~~ ~~~~", "~~~~ ~~~~ ~~~~", true, false},
    {LIST("Okafor", "Adeyemi", "Okonkwo", "Balogun", "Eze", "Nwosu"),
     LIST("Chinedu", "Emeka", "Oluwaseun", "Tunde", "Ifeanyi"),
     LIST("Ngozi", "Chiamaka", "Funmilayo", "Adaeze", "Yetunde"),
     LIST("Awolowo Road", "Broad Street", "Allen Avenue", "Ozumba Mbadiwe Avenue"),
     LIST("Lagos 1010", "Abuja 9000", "Ibadan 2001"), "# @, &~~", "+234 1 ~~~ ~~~~",
     "NIN~~~~~~~~~~~", false, false},
    {LIST("Al-Farsi", "Haddad", "Khalil", "Nasser", "Saleh", "Mansour"),
     LIST("Omar", "Ahmed", "Youssef", "Khaled", "Tariq"),
     LIST("Fatima", "Layla", "Mariam", "Noor", "Huda"),
     LIST("King Fahd Road", "Olaya Street", "Tahlia Street"),
     LIST("Riyadh 12", "Jeddah 23", "Dammam 32"), "# @, &~~~", "+966 11 ~~~ ~~~~",
     "1~~~~~~~~~", false, false},
    {LIST("Smith", "Jones", "Taylor", "Brown", "Evans", "O'Brien", "Clarke", "Hughes", "Roberts"),
     LIST("Oliver", "George", "Harry", "Jack", "Thomas", "Noah"),
     LIST("Olivia", "Amelia", "Isla", "Emily", "Charlotte", "Grace"),
     LIST("High Street", "Church Road", "Station Road", "Victoria Road"),
     LIST("Oxford OX", "London SE", "Leeds LS", "Bristol BS"), "# @, &~ 9ZZ",
     "+44 20 7946 0~~~", "999 ~~~ ~~~~", true, false},
};
#define CULTURE_US 0

static const struct institution {
    const char *name, *address, *issuer, *tz;
    unsigned culture;
} institutions[] = {
    {"Springfield General Hospital", "1200 Hospital Drive, Springfield, IL 62701", "SGH", "-0600", 0},
    {"Riverside Medical Center", "400 River Road, Riverside, CA 92501", "RMC", "-0800", 0},
    {"Universitätsklinikum Nordstadt", "Klinikstraße 1, 30625 Nordstadt", "UKN", "+0100", 2},
    {"Hôpital Sainte-Éloïse", "12 rue de l'Hôpital, 69003 Lyon", "HSE", "+0100", 3},
    {"Hospital Universitario San Martín", "Avenida de Córdoba 21, 28041 Madrid", "HUSM", "+0100", 1},
    {"Beijing Eastern Medical University Hospital", "1 Dongdan Road, Beijing 100005", "BEMU",
     "+0800", 6},
    {"Sakura Municipal Hospital", "3-1-1 Sakura-cho, Tokyo 150-0001", "SMH", "+0900", 7},
    {"Royal Thames Infirmary", "1 Embankment Road, London SE1 9ZZ", "RTI", "+0000", 12},
    {"Nordic Cancer Centre", "Sognsvannsveien 20, 0372 Oslo", "NCC", "+0100", 4},
    {"Lakeside Community Hospital", "77 Shore Drive, Fairview, OH 44126", "LCH", "-0500", 0},
};

/* ---- clinical data ---------------------------------------------------------------------- */

static const struct disease_info {
    const char *name;
    int female;               /* percent of individuals who are women */
    int age_lo, age_hi;
    int smoker;               /* percent current or former smokers */
    double bmi_lo, bmi_hi;
    const char *const *types;
    size_t ntypes;
    const char *const *stages;
    size_t nstages;
    const char *diagnosis;     /* '*' stands for the stage */
    const char *const *treatments;
    size_t ntreatments;
} diseases[D_COUNT] = {
    [D_ENDOMETRIAL] = {"endometrial cancer", 100, 45, 82, 20, 24, 42,
                       LIST("endometrioid adenocarcinoma, grade 1",
                            "endometrioid adenocarcinoma, grade 2",
                            "endometrioid adenocarcinoma, grade 3", "serous carcinoma",
                            "clear cell carcinoma", "carcinosarcoma"),
                       LIST("FIGO stage IA", "FIGO stage IB", "FIGO stage II", "FIGO stage IIIA",
                            "FIGO stage IIIC1", "FIGO stage IVB"),
                       "* endometrial carcinoma",
                       LIST("total hysterectomy with bilateral salpingo-oophorectomy",
                            "total hysterectomy, BSO, adjuvant vaginal brachytherapy",
                            "hysterectomy, BSO, carboplatin and paclitaxel",
                            "external beam radiotherapy", "levonorgestrel IUD, surveillance")},
    [D_OVARIAN] = {"ovarian cancer", 100, 40, 82, 20, 19, 34,
                   LIST("high-grade serous carcinoma", "low-grade serous carcinoma",
                        "endometrioid carcinoma", "clear cell carcinoma", "mucinous carcinoma"),
                   LIST("FIGO stage IA", "FIGO stage IC", "FIGO stage IIB", "FIGO stage IIIB",
                        "FIGO stage IIIC", "FIGO stage IVA"),
                   "* ovarian carcinoma",
                   LIST("primary cytoreductive surgery, carboplatin and paclitaxel",
                        "neoadjuvant chemotherapy, interval debulking surgery",
                        "cytoreductive surgery, chemotherapy, olaparib maintenance",
                        "palliative chemotherapy")},
    [D_CERVICAL] = {"cervical cancer", 100, 28, 75, 45, 18, 33,
                    LIST("squamous cell carcinoma", "adenocarcinoma", "adenosquamous carcinoma"),
                    LIST("FIGO stage IA2", "FIGO stage IB1", "FIGO stage IB3", "FIGO stage IIB",
                         "FIGO stage IIIC1", "FIGO stage IVA"),
                    "* cervical carcinoma",
                    LIST("radical hysterectomy", "concurrent chemoradiotherapy (cisplatin)",
                         "chemoradiotherapy and brachytherapy", "cone biopsy, surveillance")},
    [D_LUNG] = {"lung adenocarcinoma", 45, 45, 85, 85, 17, 32,
                LIST("acinar predominant adenocarcinoma", "lepidic predominant adenocarcinoma",
                     "papillary predominant adenocarcinoma", "solid predominant adenocarcinoma",
                     "micropapillary predominant adenocarcinoma",
                     "invasive mucinous adenocarcinoma"),
                LIST("cT1bN0M0, stage IA2", "cT2aN0M0, stage IB", "cT2bN1M0, stage IIB",
                     "cT3N2M0, stage IIIB", "cT4N3M1c, stage IVB"),
                "* lung adenocarcinoma",
                LIST("lobectomy with mediastinal lymph node dissection",
                     "stereotactic body radiotherapy", "osimertinib (EGFR exon 19 deletion)",
                     "carboplatin, pemetrexed and pembrolizumab",
                     "concurrent chemoradiotherapy, durvalumab consolidation")},
    [D_GLIOMA] = {"glioma", 45, 20, 78, 30, 19, 33,
                  LIST("glioblastoma, IDH-wildtype, CNS WHO grade 4",
                       "astrocytoma, IDH-mutant, CNS WHO grade 2",
                       "astrocytoma, IDH-mutant, CNS WHO grade 3",
                       "oligodendroglioma, IDH-mutant and 1p/19q-codeleted, CNS WHO grade 2"),
                  LIST("left frontal", "right frontal", "left temporal", "right parietal",
                       "bifrontal"),
                  "* glioma",
                  LIST("maximal safe resection, radiotherapy 60 Gy with temozolomide",
                       "stereotactic biopsy, radiotherapy and temozolomide",
                       "gross total resection, surveillance MRI",
                       "subtotal resection, PCV chemotherapy")},
    [D_BREAST] = {"breast carcinoma", 99, 30, 85, 25, 19, 36,
                  LIST("invasive ductal carcinoma (NST)", "invasive lobular carcinoma",
                       "ductal carcinoma in situ", "mucinous carcinoma",
                       "invasive ductal carcinoma, triple negative"),
                  LIST("pT1cN0M0, ER+/PR+/HER2-", "pT2N1aM0, ER+/PR-/HER2+",
                       "pTisN0M0", "cT3N2M0, ER-/PR-/HER2-", "pT1bN0M0, ER+/PR+/HER2-"),
                  "* breast carcinoma",
                  LIST("lumpectomy, adjuvant radiotherapy, tamoxifen",
                       "mastectomy, sentinel node biopsy, letrozole",
                       "neoadjuvant AC-T chemotherapy, trastuzumab, mastectomy",
                       "lumpectomy, radiotherapy", "neoadjuvant pembrolizumab and chemotherapy")},
    [D_HCC] = {"hepatocellular carcinoma", 25, 45, 82, 60, 20, 35,
               LIST("trabecular", "pseudoglandular", "macrotrabecular-massive",
                    "fibrolamellar carcinoma", "steatohepatitic"),
               LIST("BCLC stage 0, Child-Pugh A", "BCLC stage A, Child-Pugh A",
                    "BCLC stage B, Child-Pugh A", "BCLC stage C, Child-Pugh B"),
               "hepatocellular carcinoma, *",
               LIST("hepatic resection", "transarterial chemoembolisation (TACE)",
                    "radiofrequency ablation", "atezolizumab and bevacizumab",
                    "liver transplantation")},
    [D_HEALTHY] = {"healthy control", 50, 20, 75, 35, 18.5, 30, LIST(""),
                   LIST("no abnormality detected"), "*", LIST("none")},
};

static const char *const medical_history[] = {
    "hypertension", "type 2 diabetes mellitus", "hypercholesterolaemia", "asthma", "COPD",
    "hypothyroidism", "obesity", "atrial fibrillation", "depression", "osteoarthritis",
    "appendectomy (1998)", "cholecystectomy", "\"borderline\" hypertension", "migraine",
    "gastro-oesophageal reflux disease", "chronic kidney disease stage 2",
};
static const char *const family_history[] = {
    "mother: breast cancer", "father: lung cancer", "sister: ovarian cancer",
    "Lynch syndrome (maternal side)", "BRCA1 carrier (mother)", "father: type 2 diabetes",
    "mother: colorectal cancer at 62", "brother: myocardial infarction at 50",
    "grandmother: endometrial cancer",
};

/* ---- random numbers and UIDs -------------------------------------------------------- */

static uint64_t mix64(uint64_t z)
{
    z += 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

typedef struct rng {
    uint64_t s;
} rng;

static uint64_t rnext(rng *r)
{
    r->s += 0x9E3779B97F4A7C15ull;
    uint64_t z = r->s;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static unsigned rbelow(rng *r, size_t n)
{
    return (unsigned)(((rnext(r) >> 32) * (uint64_t)n) >> 32);
}

static int rrange(rng *r, int lo, int hi)   /* inclusive */
{
    return lo + (int)rbelow(r, (size_t)(hi - lo + 1));
}

static double runit(rng *r)
{
    return (double)(rnext(r) >> 11) * 0x1p-53;
}

static double runiform(rng *r, double lo, double hi)
{
    return lo + (hi - lo) * runit(r);
}

static bool rchance(rng *r, int percent)
{
    return (int)rbelow(r, 100) < percent;
}

#define PICK(r, arr, n) ((arr)[rbelow((r), (n))])

/* A "2.25." UID (PS3.5 B.2): the decimal form of a version 4 UUID made
 * from the seed and the place of the object in the output. */
enum uid_kind { U_STUDY = 1, U_SERIES, U_INSTANCE, U_FRAME };

static void make_uid(char out[65], uint64_t seed, unsigned individual, unsigned study,
                     unsigned series, unsigned image, enum uid_kind kind)
{
    uint64_t h = mix64(seed ^ 0x7F4A7C159E3779B9ull);
    h = mix64(h ^ individual);
    h = mix64(h ^ ((uint64_t)kind << 60 | (uint64_t)(study & 0xFFFF) << 40 |
                   (uint64_t)(series & 0xFFFF) << 24 | (image & 0xFFFFFF)));
    uint64_t hi = mix64(h ^ 0xA0761D6478BD642Full), lo = mix64(h ^ 0xE7037ED1A0B428DBull);
    hi = (hi & ~0xF000ull) | 0x4000ull;                  /* version 4 */
    lo = (lo & ~(3ull << 62)) | (1ull << 63);            /* variant 10 */
    uint8_t v[16];
    for (int i = 0; i < 8; i++) {
        v[i] = (uint8_t)(hi >> (56 - 8 * i));
        v[8 + i] = (uint8_t)(lo >> (56 - 8 * i));
    }
    obia_uid_2_25(v, out);
}

/* ---- dates ----------------------------------------------------------------------------- */

/* Days since 1970-01-01 of a civil date, and back (H. Hinnant's algorithms). */
static int days_from_civil(int y, int m, int d)
{
    y -= m <= 2;
    int era = (y >= 0 ? y : y - 399) / 400;
    int yoe = y - era * 400;
    int doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void civil_from_days(int z, int *y, int *m, int *d)
{
    z += 719468;
    int era = (z >= 0 ? z : z - 146096) / 146097;
    int doe = z - era * 146097;
    int yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp + (mp < 10 ? 3 : -9);
    *y = yoe + era * 400 + (*m <= 2);
}

static void format_date(char out[9], int days)
{
    int y, m, d;
    civil_from_days(days, &y, &m, &d);
    /* (bounded so the compiler can see the 8 digits fit) */
    snprintf(out, 9, "%04u%02u%02u", (unsigned)y % 10000u, (unsigned)m % 100u, (unsigned)d % 100u);
}

/* Completed years between two dates. */
static int age_at(int birth, int day)
{
    int by, bm, bd, y, m, d;
    civil_from_days(birth, &by, &bm, &bd);
    civil_from_days(day, &y, &m, &d);
    return y - by - (m < bm || (m == bm && d < bd));
}

static void format_time(char out[20], int seconds, int micro)
{
    seconds %= 86400;
    if (micro >= 0)
        snprintf(out, 20, "%02d%02d%02d.%06d", seconds / 3600, seconds / 60 % 60, seconds % 60,
                 micro);
    else
        snprintf(out, 20, "%02d%02d%02d", seconds / 3600, seconds / 60 % 60, seconds % 60);
}

/* ---- text ------------------------------------------------------------------------------ */

static bool is_ascii(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s >= 0x80)
            return false;
    return true;
}

/* Copy s into out (size n), cut at a character boundary if too long. */
static void copy_utf8(char *out, size_t n, const char *s)
{
    size_t len = strlen(s);
    if (len >= n) {
        len = n - 1;
        while (len && ((unsigned char)s[len] & 0xC0) == 0x80)
            len--;
    }
    memcpy(out, s, len);
    out[len] = '\0';
}

/* Remove an incomplete character left at the end of s by a cut. */
static void trim_partial_utf8(char *s)
{
    size_t n = strlen(s), start = n;
    while (start > 0 && n - start < 4 && ((unsigned char)s[start - 1] & 0xC0) == 0x80)
        start--;
    if (start == 0)
        return;
    unsigned char lead = (unsigned char)s[start - 1];
    size_t want = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
    if (n - (start - 1) < want)
        s[start - 1] = '\0';
}

/* snprintf for text that may be cut: never ends inside a character. */
static void textf(char *out, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void textf(char *out, size_t n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out, n, fmt, ap);
    va_end(ap);
    trim_partial_utf8(out);
}

/* Expand a template of the culture tables: '#' house number, '@' street,
 * '&' city, '~' a random digit. */
static void expand(char *out, size_t n, const char *tpl, rng *r, const char *street,
                   const char *city)
{
    size_t k = 0;
    char tmp[16];
    for (const char *p = tpl; *p && k + 1 < n; p++) {
        const char *add = NULL;
        if (*p == '#') {
            snprintf(tmp, sizeof tmp, "%d", rrange(r, 1, 2999));
            add = tmp;
        } else if (*p == '@') {
            add = street;
        } else if (*p == '&') {
            add = city;
        } else if (*p == '~') {
            tmp[0] = (char)('0' + rbelow(r, 10));
            tmp[1] = '\0';
            add = tmp;
        }
        if (!add) {
            out[k++] = *p;
            continue;
        }
        for (; *add && k + 1 < n; add++)
            out[k++] = *add;
    }
    out[k] = '\0';
    trim_partial_utf8(out);
}

/* Component group g (0 alphabetic, 1 ideographic, 2 phonetic) of a
 * "Latin|Ideographic|Phonetic" table entry, or "" */
static void name_group(char *out, size_t n, const char *entry, int g)
{
    const char *p = entry;
    for (int i = 0; i < g; i++) {
        p = strchr(p, '|');
        if (!p) {
            out[0] = '\0';
            return;
        }
        p++;
    }
    const char *end = strchr(p, '|');
    size_t len = end ? (size_t)(end - p) : strlen(p);
    if (len >= n)
        len = n - 1;
    memcpy(out, p, len);
    out[len] = '\0';
}

static void upper_ascii(char *s)
{
    for (; *s; s++)
        if (*s >= 'a' && *s <= 'z')
            *s = (char)(*s - 'a' + 'A');
}

/* ---- individuals -------------------------------------------------------------------- */

typedef struct person {
    unsigned index;
    char id[24];
    unsigned institution;
    unsigned culture;
    char sex;                  /* M, F or O */
    int birth;                 /* days since 1970-01-01 */
    int first_day;             /* of the first study */
    int age_first;
    enum disease disease;
    unsigned nstudies;
    uint64_t first_study;      /* number of studies before this individual's */
    char name[200];            /* PN value */
    char family[64], given[64];
    char other_id[32];
    char address[96];
    char phone[32];
    double height, weight, bmi;
    int smoking;               /* 0 never, 1 former, 2 current */
    char type[96], diagnosis[128], treatment[128], history[192], family_history[160];
    float lesion_x, lesion_y, lesion_r, body_scale;
} person;

static const char *const smoking_csv[] = {"never", "former", "current"};

static void pick_list(char *out, size_t n, rng *r, const char *const *items, size_t count,
                      unsigned most, const char *sep)
{
    unsigned k = rbelow(r, most + 1);
    bool used[32] = {false};
    out[0] = '\0';
    size_t len = 0;
    for (unsigned i = 0; i < k; i++) {
        unsigned j = rbelow(r, count);
        if (used[j % 32])
            continue;
        used[j % 32] = true;
        int w = snprintf(out + len, n - len, "%s%s", len ? sep : "", items[j]);
        if (w < 0 || (size_t)w >= n - len)
            break;
        len += (size_t)w;
    }
    if (!len)
        snprintf(out, n, "none");
}

static void plan_person(person *p, uint64_t seed, unsigned index, unsigned studies)
{
    rng r = {mix64(seed ^ mix64(0x51ED27ull + index))};
    memset(p, 0, sizeof *p);
    p->index = index;
    p->disease = rchance(&r, 20) ? D_HEALTHY : (enum disease)rbelow(&r, D_HEALTHY);
    const struct disease_info *d = &diseases[p->disease];
    if (rchance(&r, d->female))
        p->sex = 'F';
    else
        p->sex = d->female < 90 && rchance(&r, 3) ? 'O' : 'M';
    if (d->female == 100)
        p->sex = 'F';

    p->institution = rbelow(&r, COUNT(institutions));
    p->culture = rchance(&r, 70) ? institutions[p->institution].culture
                                 : rbelow(&r, COUNT(cultures));
    const culture *c = &cultures[p->culture];
    bool female = p->sex == 'F' || (p->sex == 'O' && rchance(&r, 50));
    const char *fam = PICK(&r, c->family, c->nfamily);
    const char *giv = female ? PICK(&r, c->female, c->nfemale) : PICK(&r, c->male, c->nmale);
    char groups[3][2][64];
    for (int g = 0; g < 3; g++) {
        name_group(groups[g][0], sizeof groups[g][0], fam, g);
        name_group(groups[g][1], sizeof groups[g][1], giv, g);
    }
    if (c->gendered_family && female) {
        size_t n = strlen(groups[0][0]);
        if (n > 3 && (strcmp(groups[0][0] + n - 3, "ski") == 0 ||
                      strcmp(groups[0][0] + n - 3, "cki") == 0))
            groups[0][0][n - 1] = 'a';
    }
    snprintf(p->family, sizeof p->family, "%s", groups[0][0]);
    snprintf(p->given, sizeof p->given, "%s", groups[0][1]);
    char alpha[160];
    snprintf(alpha, sizeof alpha, "%s^%s", groups[0][0], groups[0][1]);
    if (c->middle_names && rchance(&r, 50)) {
        char middle[64];
        name_group(middle, sizeof middle,
                   female ? PICK(&r, c->female, c->nfemale) : PICK(&r, c->male, c->nmale), 0);
        if (rchance(&r, 50))
            middle[1] = '\0';   /* an initial */
        size_t n = strlen(alpha);
        snprintf(alpha + n, sizeof alpha - n, "^%s", middle);
        if (p->culture == CULTURE_US && !female && rchance(&r, 8)) {
            n = strlen(alpha);
            snprintf(alpha + n, sizeof alpha - n, "^^Jr.");
        }
    }
    if (is_ascii(alpha) && rchance(&r, 35))
        upper_ascii(alpha);
    if (groups[2][0][0])
        textf(p->name, sizeof p->name, "%s=%s^%s=%s^%s", alpha, groups[1][0], groups[1][1],
                 groups[2][0], groups[2][1]);
    else if (groups[1][0][0])
        snprintf(p->name, sizeof p->name, "%s=%s^%s", alpha, groups[1][0], groups[1][1]);
    else
        snprintf(p->name, sizeof p->name, "%s", alpha);

    /* one draw per statement: the order of evaluating arguments is unspecified */
    const char *street = PICK(&r, c->streets, c->nstreets);
    const char *city = PICK(&r, c->cities, c->ncities);
    expand(p->address, sizeof p->address, c->address, &r, street, city);
    expand(p->phone, sizeof p->phone, c->phone, &r, "", "");
    expand(p->other_id, sizeof p->other_id, c->other_id, &r, "", "");
    /* unique: a bijection of the index modulo 10^8 */
    uint64_t num = (mix64(seed) % 100000000ull + (uint64_t)index * 48271ull) % 100000000ull;
    snprintf(p->id, sizeof p->id, "%s%08llu", institutions[p->institution].issuer,
             (unsigned long long)num);

    int age = rrange(&r, d->age_lo, d->age_hi);
    age = (age + rrange(&r, d->age_lo, d->age_hi)) / 2;
    int from = days_from_civil(2010, 1, 1), to = days_from_civil(2023, 6, 30);
    p->first_day = from + (int)rbelow(&r, (size_t)(to - from));
    p->birth = p->first_day - age * 365 - age / 4 - rrange(&r, 0, 364);
    p->age_first = age_at(p->birth, p->first_day);
    p->nstudies = studies ? studies : 1 + rbelow(&r, 2);

    double h = p->sex == 'M' ? runiform(&r, 1.62, 1.93)
               : p->sex == 'F' ? runiform(&r, 1.50, 1.79) : runiform(&r, 1.55, 1.86);
    p->height = round(h * 100) / 100;
    p->weight = round(runiform(&r, d->bmi_lo, d->bmi_hi) * p->height * p->height * 10) / 10;
    p->bmi = round(p->weight / (p->height * p->height) * 10) / 10;
    p->smoking = rchance(&r, d->smoker) ? (rchance(&r, 40) ? 2 : 1) : 0;

    snprintf(p->type, sizeof p->type, "%s", PICK(&r, d->types, d->ntypes));
    const char *stage = PICK(&r, d->stages, d->nstages);
    const char *star = strchr(d->diagnosis, '*');
    snprintf(p->diagnosis, sizeof p->diagnosis, "%.*s%s%s", (int)(star - d->diagnosis),
             d->diagnosis, stage, star + 1);
    snprintf(p->treatment, sizeof p->treatment, "%s", PICK(&r, d->treatments, d->ntreatments));
    pick_list(p->history, sizeof p->history, &r, medical_history, COUNT(medical_history), 3, ", ");
    pick_list(p->family_history, sizeof p->family_history, &r, family_history,
              COUNT(family_history), 2, "; ");
    if (p->disease == D_HCC) {
        size_t n = strlen(p->history);
        const char *liver = rchance(&r, 50) ? "chronic hepatitis B" : "alcohol-related cirrhosis";
        if (strcmp(p->history, "none") == 0)
            snprintf(p->history, sizeof p->history, "%s", liver);
        else
            snprintf(p->history + n, sizeof p->history - n, ", %s", liver);
    }
    p->lesion_x = (float)runiform(&r, -0.35, 0.35);
    p->lesion_y = (float)runiform(&r, -0.3, 0.3);
    p->lesion_r = (float)runiform(&r, 0.05, 0.12);
    p->body_scale = (float)runiform(&r, 0.88, 1.04);
}

/* ---- clinical CSV ---------------------------------------------------------------------- */

static void csv_field(FILE *fp, const char *s, bool last)
{
    if (strpbrk(s, ",\"\r\n")) {
        fputc('"', fp);
        for (; *s; s++) {
            if (*s == '"')
                fputc('"', fp);
            fputc(*s, fp);
        }
        fputc('"', fp);
    } else {
        fputs(s, fp);
    }
    fputc(last ? '\n' : ',', fp);
}

static bool write_csv(const char *path, const person *people, unsigned n, char *why, size_t wn)
{
    FILE *fp = fopen(path, "w");
    if (!fp) {
        snprintf(why, wn, "%s: cannot create: %s", path, strerror(errno));
        return false;
    }
    fputs("patient_id,sex,age,disease,diagnosis,pathological_type,medical_history,"
          "family_history,treatment,smoking,bmi\n",
          fp);
    for (unsigned i = 0; i < n; i++) {
        const person *p = &people[i];
        char sex[2] = {p->sex, '\0'}, age[16], bmi[16];
        snprintf(age, sizeof age, "%d", p->age_first);
        snprintf(bmi, sizeof bmi, "%.1f", p->bmi);
        csv_field(fp, p->id, false);
        csv_field(fp, sex, false);
        csv_field(fp, age, false);
        csv_field(fp, diseases[p->disease].name, false);
        csv_field(fp, p->diagnosis, false);
        csv_field(fp, p->type, false);
        csv_field(fp, p->history, false);
        csv_field(fp, p->family_history, false);
        csv_field(fp, p->treatment, false);
        csv_field(fp, smoking_csv[p->smoking], false);
        csv_field(fp, bmi, true);
    }
    bool ok = !ferror(fp);
    if (fclose(fp) != 0)
        ok = false;
    if (!ok)
        snprintf(why, wn, "%s: cannot write: %s", path, strerror(errno));
    return ok;
}

/* ---- studies, series, the run ------------------------------------------------------------ */

typedef struct study {
    unsigned index;
    const exam *ex;
    int day, time;             /* StudyDate, StudyTime (seconds) */
    unsigned institution;
    const struct device_model *device;
    char station[17], serial[17];
    char uid[65], frame_uid[65];
    char accession[17], study_id[17], request_id[17], step_id[17], pps_id[17];
    char description[65];
    char referring[128], performing[128], operators[192];
    char comment[160];         /* ImageComments of some images, or "" */
    int age;
    const char *laterality;    /* of a paired body part, or NULL */
    bool lesion;               /* the disease shows on this exam */
    bool history;              /* AdditionalPatientHistory and admitting diagnosis */
    bool utf8;
    double z_center;           /* mm, table position of the imaged volume */
    double dose, half_life;    /* PET: Bq injected, s */
    int injection;             /* PET: seconds of day */
} study;

typedef struct series {
    unsigned index;
    modality mod;
    int number;
    char uid[65];
    char description[65];
    int time, micro;           /* SeriesTime */
    unsigned images, rows, columns;
    contrast c;
    plane pl;
    double spacing, thickness;
    const struct ct_kind_info *ct;
    const struct mr_seq_info *mr;
    bool attenuation_corrected;   /* PET */
    double suv_to_bq;              /* PET: Bq/ml for SUV 1 at series start */
    double row[3], col[3], normal[3], origin[3];
    double wc, ww;
    int dt_ms;                 /* between the acquisitions of successive images */
    int kvp, ma, exposure_ms;  /* X-ray technique */
} series;

typedef struct synth {
    const char *out;
    uint64_t seed;
    unsigned individuals, studies, series, images, rows, columns, jobs;
    modality mods[M_COUNT];
    unsigned nmods;
    person *people;
    pthread_mutex_t lock;
    unsigned next;
    bool failed;
    char error[4400];
} synth;

typedef struct worker {
    synth *run;
    int32_t *values;           /* rows x columns */
    uint8_t *pixels;           /* encoded Pixel Data */
    size_t capacity;           /* pixels in both */
    char path[4096];
    char error[4400];
    uint64_t studies, series, images, bytes;
    pthread_t thread;
} worker;

/* ---- pixels ----------------------------------------------------------------------------- */

static void fill_ellipse(int32_t *px, unsigned w, unsigned h, double cx, double cy, double rx,
                         double ry, int32_t v)
{
    if (rx <= 0 || ry <= 0)
        return;
    int y0 = (int)floor(cy - ry), y1 = (int)ceil(cy + ry);
    if (y0 < 0)
        y0 = 0;
    if (y1 > (int)h - 1)
        y1 = (int)h - 1;
    for (int y = y0; y <= y1; y++) {
        double dy = (y + 0.5 - cy) / ry;
        if (dy <= -1 || dy >= 1)
            continue;
        double hw = rx * sqrt(1 - dy * dy);
        int x0 = (int)ceil(cx - hw - 0.5), x1 = (int)floor(cx + hw - 0.5);
        if (x0 < 0)
            x0 = 0;
        if (x1 > (int)w - 1)
            x1 = (int)w - 1;
        int32_t *row = px + (size_t)y * w;
        for (int x = x0; x <= x1; x++)
            row[x] = v;
    }
}

/* Paint the phantom's cross-section at slice fraction z (0..1) in tissue
 * values of contrast c; mirror -1 flips left and right. */
static void paint(int32_t *px, unsigned w, unsigned h, const person *p, const study *st,
                  contrast c, bool fat_suppressed, double z, int mirror)
{
    int val[T_COUNT];
    memcpy(val, tissue_value[c], sizeof val);
    if (fat_suppressed)
        val[T_FAT] /= 8;
    size_t n = (size_t)w * h;
    for (size_t i = 0; i < n; i++)
        px[i] = val[T_AIR];
    const struct phantom *ph = &phantoms[st->ex->ph];
    bool body = st->ex->mod == M_CT || st->ex->mod == M_MR || st->ex->mod == M_PT;
    double half = (w < h ? w : h) / 2.0 * (body ? p->body_scale : 1.0);
    for (size_t k = 0; k < ph->n; k++) {
        const shape *s = &ph->shapes[k];
        if (z < s->z0 || z > s->z1)
            continue;
        double zm = (s->z0 + s->z1) / 2, hz = (s->z1 - s->z0) / 2;
        double t = hz > 0 ? (z - zm) / hz : 0;
        double f = sqrt(1 - 0.55 * t * t);
        fill_ellipse(px, w, h, w / 2.0 + mirror * s->cx * half, h / 2.0 + s->cy * half,
                     s->rx * f * half, s->ry * f * half, val[s->t]);
    }
    if (st->lesion && z > 0.3 && z < 0.7) {
        double t = (z - 0.5) / 0.2, f = sqrt(1 - 0.8 * t * t);
        double lx = st->ex->ph == PH_MAMMO ? 0.45 + 0.4 * p->lesion_x : p->lesion_x;
        fill_ellipse(px, w, h, w / 2.0 + mirror * lx * half, h / 2.0 + p->lesion_y * half,
                     p->lesion_r * f * half, p->lesion_r * 0.8 * f * half, val[T_LESION]);
    }
}

/* Noise comes from a table filled once (triangular, -255..255) and read
 * from a different place for every image and row: far cheaper per pixel
 * than a generator, and as deterministic. */
#define NOISE_BITS 18
static int16_t noise_table[1 << NOISE_BITS];

static void fill_noise_table(void)
{
    rng r = {0x5EEDull};
    for (size_t k = 0; k < COUNT(noise_table); k++) {
        uint64_t x = rnext(&r);
        noise_table[k] = (int16_t)((int)(x & 0xFF) + (int)((x >> 8) & 0xFF) - 255);
    }
}

/* The noise of row y (w values) of an image with noise seed `seed`. */
static inline const int16_t *noise_row(uint64_t seed, unsigned y, unsigned w)
{
    uint64_t start = (seed >> 20) + (uint64_t)y * 7919u * (seed % 13 + 1);
    return noise_table + start % (COUNT(noise_table) - w);
}

/* A 16-bit sample as stored: little-endian. */
static inline uint16_t le16(int32_t v)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    return __builtin_bswap16((uint16_t)v);
#else
    return (uint16_t)v;
#endif
}

static inline int32_t clamp(int32_t v, int32_t lo, int32_t hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

/* 5x7 font for burned-in annotations: the rows of each glyph, bit 4 left. */
static const struct glyph {
    char c;
    uint8_t rows[7];
} font[] = {
    {'0', {0x0E, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0E}}, {'1', {0x04, 0x0C, 0x04, 0x04, 0x04, 0x04, 0x0E}},
    {'2', {0x0E, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1F}}, {'3', {0x1F, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0E}},
    {'4', {0x02, 0x06, 0x0A, 0x12, 0x1F, 0x02, 0x02}}, {'5', {0x1F, 0x10, 0x1E, 0x01, 0x01, 0x11, 0x0E}},
    {'6', {0x06, 0x08, 0x10, 0x1E, 0x11, 0x11, 0x0E}}, {'7', {0x1F, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08}},
    {'8', {0x0E, 0x11, 0x11, 0x0E, 0x11, 0x11, 0x0E}}, {'9', {0x0E, 0x11, 0x11, 0x0F, 0x01, 0x02, 0x0C}},
    {'A', {0x0E, 0x11, 0x11, 0x11, 0x1F, 0x11, 0x11}}, {'B', {0x1E, 0x11, 0x11, 0x1E, 0x11, 0x11, 0x1E}},
    {'C', {0x0E, 0x11, 0x10, 0x10, 0x10, 0x11, 0x0E}}, {'D', {0x1C, 0x12, 0x11, 0x11, 0x11, 0x12, 0x1C}},
    {'E', {0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x1F}}, {'F', {0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x10}},
    {'G', {0x0E, 0x11, 0x10, 0x17, 0x11, 0x11, 0x0F}}, {'H', {0x11, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11}},
    {'I', {0x0E, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0E}}, {'J', {0x07, 0x02, 0x02, 0x02, 0x02, 0x12, 0x0C}},
    {'K', {0x11, 0x12, 0x14, 0x18, 0x14, 0x12, 0x11}}, {'L', {0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x1F}},
    {'M', {0x11, 0x1B, 0x15, 0x15, 0x11, 0x11, 0x11}}, {'N', {0x11, 0x11, 0x19, 0x15, 0x13, 0x11, 0x11}},
    {'O', {0x0E, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E}}, {'P', {0x1E, 0x11, 0x11, 0x1E, 0x10, 0x10, 0x10}},
    {'Q', {0x0E, 0x11, 0x11, 0x11, 0x15, 0x12, 0x0D}}, {'R', {0x1E, 0x11, 0x11, 0x1E, 0x14, 0x12, 0x11}},
    {'S', {0x0F, 0x10, 0x10, 0x0E, 0x01, 0x01, 0x1E}}, {'T', {0x1F, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04}},
    {'U', {0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E}}, {'V', {0x11, 0x11, 0x11, 0x11, 0x11, 0x0A, 0x04}},
    {'W', {0x11, 0x11, 0x11, 0x15, 0x15, 0x15, 0x0A}}, {'X', {0x11, 0x11, 0x0A, 0x04, 0x0A, 0x11, 0x11}},
    {'Y', {0x11, 0x11, 0x11, 0x0A, 0x04, 0x04, 0x04}}, {'Z', {0x1F, 0x01, 0x02, 0x04, 0x08, 0x10, 0x1F}},
    {'-', {0x00, 0x00, 0x00, 0x1F, 0x00, 0x00, 0x00}}, {'/', {0x00, 0x01, 0x02, 0x04, 0x08, 0x10, 0x00}},
    {':', {0x00, 0x0C, 0x0C, 0x00, 0x0C, 0x0C, 0x00}}, {'.', {0x00, 0x00, 0x00, 0x00, 0x00, 0x0C, 0x0C}},
    {',', {0x00, 0x00, 0x00, 0x00, 0x0C, 0x04, 0x08}}, {'^', {0x04, 0x0A, 0x11, 0x00, 0x00, 0x00, 0x00}},
    {'(', {0x02, 0x04, 0x08, 0x08, 0x08, 0x04, 0x02}}, {')', {0x08, 0x04, 0x02, 0x02, 0x02, 0x04, 0x08}},
    {'\'', {0x04, 0x04, 0x08, 0x00, 0x00, 0x00, 0x00}}, {'?', {0x0E, 0x11, 0x01, 0x02, 0x04, 0x00, 0x04}},
};

/* Latin letters with diacritics (U+00C0..U+017F) without them, for the font. */
static const char latin_fold[] =
    "AAAAAAACEEEEIIIIDNOOOOOxOUUUUYTSaaaaaaaceeeeiiiidnooooo/ouuuuyty"
    "AaAaAaCcCcCcCcDdDdEeEeEeEeEeGgGgGgGgHhHhIiIiIiIiIiJjJjKkkLlLlLlL"
    "lLlNnNnNnnNnOoOoOoOoRrRrRrSsSsSsSsTtTtTtUuUuUuUuUuUuWwYyYZzZzZzs";

/* The next character of UTF-8 text as one the font has. */
static char next_glyph_char(const char **s)
{
    const unsigned char *p = (const unsigned char *)*s;
    unsigned cp = p[0];
    size_t len = 1;
    if (cp >= 0xC0 && (p[1] & 0xC0) == 0x80) {
        if (cp < 0xE0) {
            cp = (cp & 0x1F) << 6 | (p[1] & 0x3F);
            len = 2;
        } else {
            len = cp < 0xF0 ? 3 : 4;
            for (size_t i = 1; i < len; i++)
                if (!p[i]) {
                    len = i;
                    break;
                }
            cp = 0xFFFD;
        }
    } else if (cp >= 0x80) {
        cp = 0xFFFD;
    }
    *s += len;
    char c = cp < 0x80 ? (char)cp : cp >= 0xC0 && cp < 0x180 ? latin_fold[cp - 0xC0] : '?';
    return c >= 'a' && c <= 'z' ? (char)(c - 'a' + 'A') : c;
}

/* Burn text into an 8-bit image of `channels` samples per pixel. */
static void burn_text(uint8_t *px, unsigned w, unsigned h, unsigned channels, unsigned x,
                      unsigned y, const char *text, const uint8_t color[3])
{
    for (const char *s = text; *s && x + 5 <= w;) {
        char c = next_glyph_char(&s);
        const struct glyph *g = NULL;
        for (size_t k = 0; k < COUNT(font); k++)
            if (font[k].c == c)
                g = &font[k];
        if (g)
            for (unsigned r = 0; r < 7 && y + r < h; r++)
                for (unsigned b = 0; b < 5; b++)
                    if (g->rows[r] & (0x10 >> b)) {
                        uint8_t *q = px + ((size_t)(y + r) * w + x + b) * channels;
                        for (unsigned ch = 0; ch < channels; ch++)
                            q[ch] = color[channels == 3 ? ch : 0];
                    }
        x += 6;
    }
}

/* Encode image `i` of a series into w->pixels; returns the length of
 * Pixel Data.  PET sets *slope (Rescale Slope of the image). */
static size_t render(worker *w, const person *p, const study *st, const series *se, unsigned i,
                     uint64_t seed, double *slope)
{
    unsigned W = se->columns, H = se->rows;
    size_t n = (size_t)W * H;
    int32_t *v = w->values;
    uint8_t *out = w->pixels;
    bool volume = se->mod == M_CT || se->mod == M_MR || se->mod == M_PT;
    double z = volume ? 0.12 + 0.76 * (i + 0.5) / se->images : 0.5;
    int mirror = 1;
    if (se->mod == M_MG)
        mirror = mg_views[(se->index * se->images + i) % COUNT(mg_views)].laterality[0] == 'R' ? 1 : -1;
    else if (st->laterality && st->laterality[0] == 'L')
        mirror = -1;
    paint(v, W, H, p, st, se->c, se->mr && strstr(se->mr->options, "FS"), z, mirror);
    *slope = 1;

    switch (se->mod) {
    case M_CT: {
        /* outside the reconstruction circle: padding, or air */
        int32_t outside = st->device->variant == 1 ? -2000 : 0;
        double radius = (W < H ? W : H) / 2.0;
        for (unsigned y = 0; y < H; y++) {
            double dy = y + 0.5 - H / 2.0;
            double half = dy * dy < radius * radius ? sqrt(radius * radius - dy * dy) : 0;
            unsigned x0 = half > 0 ? (unsigned)fmax(0, ceil(W / 2.0 - half - 0.5)) : W;
            unsigned x1 = half > 0 ? (unsigned)fmin(W, floor(W / 2.0 + half - 0.5) + 1) : W;
            const int16_t *nz = noise_row(seed, y, W);
            int32_t *row = v + (size_t)y * W;
            uint16_t *o = (uint16_t *)(out + (size_t)y * W * 2);
            for (unsigned x = 0; x < W; x++) {
                int32_t s = x < x0 || x >= x1 ? outside
                            : clamp(row[x] + nz[x] * 12 / 256 + 1024, 0, 4095);
                o[x] = le16(s);
            }
        }
        return 2 * n;
    }
    case M_MR:
        for (unsigned y = 0; y < H; y++) {
            const int16_t *nz = noise_row(seed, y, W);
            int32_t *row = v + (size_t)y * W;
            uint16_t *o = (uint16_t *)(out + (size_t)y * W * 2);
            for (unsigned x = 0; x < W; x++) {
                int32_t s = row[x] + nz[x] * 24 / 256;
                o[x] = le16(clamp(s < 0 ? -s : s, 0, 4095));
            }
        }
        return 2 * n;
    case M_PT: {
        /* multiplicative noise of about 25%, then one scale per image */
        int64_t max = 0;
        for (unsigned y = 0; y < H; y++) {
            const int16_t *nz = noise_row(seed, y, W);
            int32_t *row = v + (size_t)y * W;
            for (unsigned x = 0; x < W; x++) {
                int32_t a = row[x] * (1020 + nz[x]);
                row[x] = a > 0 ? a : 0;
                if (row[x] > max)
                    max = row[x];
            }
        }
        /* row values are SUV x 100 x 1020 */
        double max_bq = (double)max * se->suv_to_bq / 102000.0;
        *slope = max > 0 ? max_bq / 32000 : 1;
        double scale = max > 0 ? 32000.0 / (double)max : 0;
        for (size_t k = 0; k < n; k++)
            ((uint16_t *)out)[k] = le16((int32_t)(v[k] * scale + 0.5));
        return 2 * n;
    }
    case M_CR:
    case M_DX:
    case M_MG: {
        int amp = se->mod == M_MG ? 40 : 30;
        for (unsigned y = 0; y < H; y++) {
            int heel = (int)(y * 160 / H) - 80;   /* anode heel effect */
            const int16_t *nz = noise_row(seed, y, W);
            int32_t *row = v + (size_t)y * W;
            uint16_t *o = (uint16_t *)(out + (size_t)y * W * 2);
            for (unsigned x = 0; x < W; x++)
                o[x] = le16(clamp(row[x] + heel + nz[x] * amp / 256, 0, 4095));
        }
        return 2 * n;
    }
    case M_US: {
        bool rgb = st->device->variant == 1;
        unsigned ch = rgb ? 3 : 1;
        double ay = H * 0.08, r0 = H * 0.10, r1 = H * 0.95;
        memset(out, 0, n * ch);
        for (unsigned y = 0; y < H; y++) {
            /* the sector: |dx| <= 0.7 dy and r0 <= distance from the apex <= r1 */
            double dy = y + 0.5 - ay;
            if (dy <= 0 || dy > r1)
                continue;
            double half = fmin(0.7 * dy, sqrt(r1 * r1 - dy * dy));
            double hole = dy < r0 ? sqrt(r0 * r0 - dy * dy) : 0;
            int32_t gain = (int32_t)(256 - y * 100 / H);   /* depth attenuation */
            const int16_t *nz = noise_row(seed, y, W);
            int32_t *row = v + (size_t)y * W;
            uint8_t *o = out + (size_t)y * W * ch;
            for (unsigned x = 0; x < W; x++) {
                double dx = fabs(x + 0.5 - W / 2.0);
                if (dx > half || dx < hole)
                    continue;
                /* speckle: a factor from 0.43 to 1.57 */
                int32_t s = row[x] * (48 + ((nz[x] + 255) >> 2)) / 112;
                s = clamp(s * gain / 256, 0, 255);
                for (unsigned c = 0; c < ch; c++)
                    o[x * ch + c] = (uint8_t)s;
            }
        }
        /* the annotations real scanners burn in */
        static const uint8_t yellow[3] = {255, 255, 0}, white[3] = {255, 255, 255};
        char line[160], date[9];
        int y0, m0, d0;
        civil_from_days(p->birth, &y0, &m0, &d0);
        burn_text(out, W, H, ch, 2, 2, institutions[st->institution].name, rgb ? yellow : white);
        snprintf(line, sizeof line, "%s, %s", p->family, p->given);
        burn_text(out, W, H, ch, 2, 11, line, rgb ? yellow : white);
        snprintf(line, sizeof line, "ID %s DOB %04d-%02d-%02d", p->id, y0, m0, d0);
        burn_text(out, W, H, ch, 2, 20, line, white);
        format_date(date, st->day);
        snprintf(line, sizeof line, "%.4s-%.2s-%.2s %02d:%02d", date, date + 4, date + 6,
                 se->time / 3600 % 24, se->time / 60 % 60);
        burn_text(out, W, H, ch, 2, 29, line, white);
        if (H > 20)
            burn_text(out, W, H, ch, 2, H - 10, st->ex->description, white);
        return n * ch;
    }
    default:
        return 0;
    }
}

/* ---- building datasets ------------------------------------------------------------------ */

typedef struct dest {
    obia_dataset *ds;   /* NULL after a failed add_item */
    obia_error *err;    /* the first error wins */
} dest;

static void put(dest o, enum attr a, const char *v)
{
    if (o.ds)
        obia_dataset_set_string(o.ds, attrs[a].tag, attrs[a].vr, v, o.err);
}

static void putf(dest o, enum attr a, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void putf(dest o, enum attr a, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    put(o, a, buf);
}

static void put_int(dest o, enum attr a, int64_t v)
{
    if (o.ds)
        obia_dataset_set_int(o.ds, attrs[a].tag, attrs[a].vr, v, o.err);
}

static void put_fd(dest o, enum attr a, double v)
{
    if (o.ds)
        obia_dataset_set_double(o.ds, attrs[a].tag, attrs[a].vr, v, o.err);
}

/* A DS value: at most 6 decimals, no trailing zeros, at most 16 characters. */
static void format_ds(char out[24], double v)
{
    for (int prec = 6; prec >= 0; prec--) {
        snprintf(out, 24, "%.*f", prec, v);
        if (strchr(out, '.')) {
            size_t n = strlen(out);
            while (out[n - 1] == '0')
                out[--n] = '\0';
            if (out[n - 1] == '.')
                out[--n] = '\0';
        }
        if (strcmp(out, "-0") == 0)
            strcpy(out, "0");
        if (strlen(out) <= 16)
            return;
    }
    snprintf(out, 24, "%.9e", v);
}

static void put_ds_n(dest o, enum attr a, const double *v, size_t n)
{
    char buf[24 * 8] = "";
    size_t len = 0;
    for (size_t i = 0; i < n && i < 8; i++) {
        char one[24];
        format_ds(one, v[i]);
        len += (size_t)snprintf(buf + len, sizeof buf - len, "%s%s", i ? "\\" : "", one);
    }
    put(o, a, buf);
}

static void put_ds(dest o, enum attr a, double v)
{
    put_ds_n(o, a, &v, 1);
}

static dest add_item(dest o, enum attr a)
{
    dest item = {NULL, o.err};
    if (o.ds)
        item.ds = obia_dataset_add_item(o.ds, attrs[a].tag, o.err);
    return item;
}

static void put_empty_sequence(dest o, enum attr a)
{
    if (o.ds)
        obia_dataset_set_empty_sequence(o.ds, attrs[a].tag, o.err);
}

static dest put_code(dest o, enum attr seq, const char *value, const char *scheme,
                    const char *meaning)
{
    dest item = add_item(o, seq);
    put(item, A_CodeValue, value);
    put(item, A_CodingSchemeDesignator, scheme);
    put(item, A_CodeMeaning, meaning);
    return item;
}

static void put_date_time(dest o, enum attr date, enum attr time, int day, int64_t ms, bool micro)
{
    char d[9], t[20];
    format_date(d, day + (int)(ms / 86400000));
    format_time(t, (int)(ms / 1000 % 86400), micro ? (int)(ms % 1000) * 1000 : -1);
    put(o, date, d);
    put(o, time, t);
}

/* ---- modules ----------------------------------------------------------------------------- */

static void patient_modules(dest o, const person *p, const study *st)
{
    char d[9];
    put(o, A_PatientName, p->name);
    put(o, A_PatientID, p->id);
    put(o, A_IssuerOfPatientID, institutions[p->institution].issuer);
    format_date(d, p->birth);
    put(o, A_PatientBirthDate, d);
    putf(o, A_PatientSex, "%c", p->sex);
    put(o, A_OtherPatientIDs, p->other_id);
    dest other = add_item(o, A_OtherPatientIDsSequence);
    put(other, A_PatientID, p->other_id);
    put(other, A_IssuerOfPatientID, "NATIONAL ID");
    put(other, A_TypeOfPatientID, "TEXT");
    put(o, A_PatientAddress, p->address);
    put(o, A_PatientTelephoneNumbers, p->phone);
    /* Patient Study */
    putf(o, A_PatientAge, "%03dY", st->age);
    put_ds(o, A_PatientSize, p->height);
    put_ds(o, A_PatientWeight, p->weight);
    put(o, A_SmokingStatus, p->smoking == 2 ? "YES" : "NO");
    if (st->history) {
        char diag[65];
        copy_utf8(diag, sizeof diag, p->diagnosis);
        put(o, A_AdmittingDiagnosesDescription, diag);
        putf(o, A_AdditionalPatientHistory, "%s. Past history: %s. Family history: %s.",
             p->diagnosis, p->history, p->family_history);
    }
}

static void study_equipment_modules(dest o, const study *st, const series *se)
{
    const struct institution *in = &institutions[st->institution];
    put(o, A_StudyInstanceUID, st->uid);
    put_date_time(o, A_StudyDate, A_StudyTime, st->day, (int64_t)st->time * 1000, false);
    put(o, A_ReferringPhysicianName, st->referring);
    put(o, A_StudyID, st->study_id);
    put(o, A_AccessionNumber, st->accession);
    put(o, A_StudyDescription, st->description);
    put(o, A_Manufacturer, st->device->manufacturer);
    put(o, A_ManufacturerModelName, st->device->model);
    put(o, A_SoftwareVersions, st->device->software);
    put(o, A_DeviceSerialNumber, st->serial);
    put(o, A_StationName, st->station);
    put(o, A_InstitutionName, in->name);
    put(o, A_InstitutionAddress, in->address);
    put(o, A_InstitutionalDepartmentName, modalities[se->mod].department);
    put(o, A_TimezoneOffsetFromUTC, in->tz);
}

static void series_module(dest o, const study *st, const series *se)
{
    const exam *ex = st->ex;
    put(o, A_Modality, modalities[se->mod].name);
    put(o, A_SeriesInstanceUID, se->uid);
    put_int(o, A_SeriesNumber, se->number);
    put_date_time(o, A_SeriesDate, A_SeriesTime, st->day,
                  (int64_t)se->time * 1000 + se->micro / 1000, true);
    put(o, A_SeriesDescription, se->description);
    put(o, A_ProtocolName, se->mod == M_MR ? se->description : ex->description);
    put(o, A_BodyPartExamined, se->mod == M_CT && ex->mod == M_PT ? "WHOLEBODY" : ex->body_part);
    put(o, A_PerformingPhysicianName, st->performing);
    put(o, A_OperatorsName, st->operators);
    if (st->laterality && se->mod != M_DX && se->mod != M_MG)
        put(o, A_Laterality, st->laterality);
    else if (!st->laterality && strcmp(ex->body_part, "BREAST") == 0 && se->mod != M_MG)
        put(o, A_Laterality, "");   /* both breasts: Type 2C, no value */
    /* PET states the position in Patient Orientation Code Sequence instead */
    if (se->mod == M_CT || se->mod == M_MR)
        put(o, A_PatientPosition,
            ex->ph == PH_KNEE || ex->ph == PH_FOOT ? "FFS" : "HFS");
    dest req = add_item(o, A_RequestAttributesSequence);
    put(req, A_RequestedProcedureID, st->request_id);
    put(req, A_ScheduledProcedureStepID, st->step_id);
    put(req, A_AccessionNumber, st->accession);
    put(req, A_RequestedProcedureDescription, ex->description);
    put_date_time(o, A_PerformedProcedureStepStartDate, A_PerformedProcedureStepStartTime,
                  st->day, (int64_t)st->time * 1000, false);
    put(o, A_PerformedProcedureStepID, st->pps_id);
    put(o, A_PerformedProcedureStepDescription, ex->description);
}

static void image_plane_module(dest o, const series *se, unsigned i)
{
    double pos[3], orient[6] = {se->row[0], se->row[1], se->row[2],
                                se->col[0], se->col[1], se->col[2]};
    for (int k = 0; k < 3; k++)
        pos[k] = se->origin[k] + i * se->thickness * se->normal[k];
    double spacing[2] = {se->spacing, se->spacing};
    put_ds_n(o, A_PixelSpacing, spacing, 2);
    put_ds_n(o, A_ImageOrientationPatient, orient, 6);
    put_ds_n(o, A_ImagePositionPatient, pos, 3);
    put_ds(o, A_SliceThickness, se->thickness);
    put_ds(o, A_SliceLocation,
           pos[0] * se->normal[0] + pos[1] * se->normal[1] + pos[2] * se->normal[2]);
}

static void pixel_module(dest o, const study *st, const series *se)
{
    bool rgb = se->mod == M_US && st->device->variant == 1;
    put_int(o, A_SamplesPerPixel, rgb ? 3 : 1);
    put(o, A_PhotometricInterpretation, rgb ? "RGB" : "MONOCHROME2");
    if (rgb)
        put_int(o, A_PlanarConfiguration, 0);
    put_int(o, A_Rows, se->rows);
    put_int(o, A_Columns, se->columns);
    int allocated = se->mod == M_US ? 8 : 16, stored = 12, sign = 0;
    if (se->mod == M_US)
        stored = 8;
    else if (se->mod == M_PT || (se->mod == M_CT && st->device->variant == 1))
        stored = 16, sign = 1;
    put_int(o, A_BitsAllocated, allocated);
    put_int(o, A_BitsStored, stored);
    put_int(o, A_HighBit, stored - 1);
    put_int(o, A_PixelRepresentation, sign);
    if (se->mod == M_CT && sign)
        put_int(o, A_PixelPaddingValue, -2000);
}

static void voi_module(dest o, double wc, double ww, const char *explanation)
{
    put_ds(o, A_WindowCenter, wc);
    put_ds(o, A_WindowWidth, ww);
    put(o, A_WindowCenterWidthExplanation, explanation);
}

static void ct_module(dest o, const study *st, const series *se)
{
    put(o, A_ImageType, "ORIGINAL\\PRIMARY\\AXIAL");
    put_ds(o, A_RescaleIntercept, -1024);
    put_ds(o, A_RescaleSlope, 1);
    put(o, A_RescaleType, "HU");
    put_ds(o, A_KVP, se->kvp);
    put(o, A_ScanOptions, "HELICAL MODE");
    put_ds(o, A_DataCollectionDiameter, 500);
    put_ds(o, A_ReconstructionDiameter, se->spacing * (se->columns > se->rows ? se->columns : se->rows));
    put_ds(o, A_DistanceSourceToDetector, 1085.6);
    put_ds(o, A_DistanceSourceToPatient, 595);
    put_ds(o, A_GantryDetectorTilt, 0);
    put_ds(o, A_TableHeight, 160);
    put(o, A_RotationDirection, "CW");
    put_int(o, A_ExposureTime, se->exposure_ms);
    put_int(o, A_XRayTubeCurrent, se->ma);
    put_int(o, A_Exposure, (int64_t)se->ma * se->exposure_ms / 1000);
    put(o, A_FilterType, st->ex->ph == PH_HEAD ? "HEAD FILTER" : "BODY FILTER");
    put_int(o, A_GeneratorPower, (int64_t)se->kvp * se->ma / 1000);
    put_ds(o, A_FocalSpots, 1.2);
    put(o, A_ConvolutionKernel, se->ct->kernel);
    put_fd(o, A_CTDIvol, se->ma * se->exposure_ms / 1000.0 * (se->kvp / 120.0) * 0.09);
    if (st->ex->ph == PH_HEAD)
        put_code(o, A_CTDIPhantomTypeCodeSequence, "113690", "DCM", "IEC Head Dosimetry Phantom");
    else
        put_code(o, A_CTDIPhantomTypeCodeSequence, "113691", "DCM", "IEC Body Dosimetry Phantom");
    if (st->ex->contrast && st->ex->mod == M_CT) {
        put(o, A_ContrastBolusAgent, "Iohexol 350 mgI/ml");
        put(o, A_ContrastBolusRoute, "IV");
        put_ds(o, A_ContrastBolusVolume, 90);
    }
    voi_module(o, se->wc, se->ww, se->ct->window);
}

static const char *coil_name(phantom_kind ph)
{
    switch (ph) {
    case PH_HEAD: return "HeadNeck_20";
    case PH_KNEE: return "Knee_15";
    case PH_SPINE: return "Spine_32";
    case PH_BREAST: return "Breast_16";
    default: return "Body_18";
    }
}

static void mr_module(dest o, const study *st, const series *se)
{
    const struct mr_seq_info *m = se->mr;
    double field = st->device->variant / 10.0;
    put(o, A_ImageType, "ORIGINAL\\PRIMARY\\M\\ND");
    put(o, A_ScanningSequence, m->scanning);
    put(o, A_SequenceVariant, m->variant);
    put(o, A_ScanOptions, m->options);
    put(o, A_MRAcquisitionType, m->acquisition);
    putf(o, A_SequenceName, "*%s", m->name);
    put_ds(o, A_RepetitionTime, m->tr);
    put_ds(o, A_EchoTime, m->te);
    if (m->ti > 0)
        put_ds(o, A_InversionTime, m->ti);
    put_ds(o, A_NumberOfAverages, m->c == C_DWI ? 4 : 1);
    put_ds(o, A_ImagingFrequency, 42.577478 * field);
    put(o, A_ImagedNucleus, "1H");
    put_int(o, A_EchoNumbers, 1);
    put_ds(o, A_MagneticFieldStrength, field);
    put_ds(o, A_SpacingBetweenSlices, se->thickness);
    unsigned phase = se->columns * 3 / 4;
    put_int(o, A_NumberOfPhaseEncodingSteps, phase);
    put_int(o, A_EchoTrainLength, m->etl);
    put_ds(o, A_PercentSampling, 100);
    put_ds(o, A_PercentPhaseFieldOfView, 100);
    put_ds(o, A_PixelBandwidth, m->c == C_DWI ? 1500 : 220);
    put(o, A_ReceiveCoilName, coil_name(st->ex->ph));
    put(o, A_TransmitCoilName, "Body");
    bool row_phase = se->pl != P_AXIAL;
    uint8_t matrix[8];
    uint16_t mv[4] = {row_phase ? (uint16_t)se->columns : 0, row_phase ? 0 : (uint16_t)se->columns,
                      row_phase ? 0 : (uint16_t)phase, row_phase ? (uint16_t)phase : 0};
    for (int k = 0; k < 4; k++)
        obia_wr16le(matrix + 2 * k, mv[k]);
    if (o.ds)
        obia_dataset_set_bytes(o.ds, attrs[A_AcquisitionMatrix].tag, OBIA_VR_US, matrix, 8, o.err);
    put(o, A_InPlanePhaseEncodingDirection, row_phase ? "ROW" : "COL");
    put_ds(o, A_FlipAngle, m->flip);
    put_ds(o, A_SAR, 0.4 + 0.1 * (se->index % 10));
    if (st->ex->contrast && (m->c == C_T1) && se->index > 0) {
        put(o, A_ContrastBolusAgent, "Gadobutrol 1.0 mmol/ml");
        put(o, A_ContrastBolusRoute, "IV");
        put_ds(o, A_ContrastBolusVolume, 7.5);
    }
    voi_module(o, se->wc, se->ww, "");
}

static void pet_module(dest o, const study *st, const series *se, unsigned i, double slope)
{
    bool wb = st->ex->ph != PH_HEAD;
    put(o, A_ImageType, "ORIGINAL\\PRIMARY");
    put(o, A_SeriesType, wb ? "WHOLE BODY\\IMAGE" : "STATIC\\IMAGE");
    put(o, A_Units, "BQML");
    put(o, A_CountsSource, "EMISSION");
    put(o, A_CorrectedImage,
        se->attenuation_corrected ? "DECY\\ATTN\\SCAT\\DTIM\\RAN\\NORM" : "DECY\\DTIM\\RAN\\NORM");
    put(o, A_RandomsCorrectionMethod, "DLYD");
    if (se->attenuation_corrected) {
        put(o, A_AttenuationCorrectionMethod, "CT-based");
        put(o, A_ScatterCorrectionMethod, "Model-based");
    }
    put(o, A_DecayCorrection, "START");
    put(o, A_ReconstructionMethod, "OSEM 3i21s");
    put(o, A_CollimatorType, "NONE");
    put_int(o, A_NumberOfSlices, se->images);
    dest rp = add_item(o, A_RadiopharmaceuticalInformationSequence);
    put(rp, A_Radiopharmaceutical, "Fluorodeoxyglucose");
    char d[9], t[20];
    format_date(d, st->day);
    format_time(t, st->injection, -1);
    put(rp, A_RadiopharmaceuticalStartTime, t);
    putf(rp, A_RadiopharmaceuticalStartDateTime, "%s%s", d, t);
    put_ds(rp, A_RadionuclideTotalDose, round(st->dose));
    put_ds(rp, A_RadionuclideHalfLife, st->half_life);
    put_ds(rp, A_RadionuclidePositronFraction, 0.9673);
    put_code(rp, A_RadionuclideCodeSequence, "77004003", "SCT", "^18^Fluorine");
    put_code(rp, A_RadiopharmaceuticalCodeSequence, "35321007", "SCT", "Fluorodeoxyglucose F^18^");
    put_empty_sequence(o, A_PatientOrientationCodeSequence);
    put_empty_sequence(o, A_PatientGantryRelationshipCodeSequence);
    put_ds(o, A_RescaleIntercept, 0);
    put_ds(o, A_RescaleSlope, slope);
    put_ds(o, A_FrameReferenceTime, 0);
    put_int(o, A_ActualFrameDuration, 180000);
    put_int(o, A_ImageIndex, i + 1);
    put_ds(o, A_DecayFactor, 1);
    put_ds(o, A_DoseCalibrationFactor, 1);
    put_ds(o, A_ScatterFractionFactor, 0.31);
    put_ds(o, A_DeadTimeFactor, 1.02);
    voi_module(o, se->wc, se->ww, "");
}

static void xray_technique(dest o, const series *se, double sid, double sod)
{
    put_ds(o, A_KVP, se->kvp);
    put_ds(o, A_DistanceSourceToDetector, sid);
    put_ds(o, A_DistanceSourceToPatient, sod);
    put_int(o, A_ExposureTime, se->exposure_ms);
    put_int(o, A_XRayTubeCurrent, se->ma);
    put_int(o, A_Exposure, (int64_t)se->ma * se->exposure_ms / 1000 > 0
                               ? (int64_t)se->ma * se->exposure_ms / 1000 : 1);
    double spacing[2] = {se->spacing, se->spacing};
    put_ds_n(o, A_ImagerPixelSpacing, spacing, 2);
}

static void projection_module(dest o, const person *p, const study *st, const series *se,
                              unsigned i)
{
    const exam *ex = st->ex;
    bool chest = ex->ph == PH_CHEST_PA;
    if (se->mod == M_MG) {
        const struct mg_view *v = &mg_views[(se->index * se->images + i) % COUNT(mg_views)];
        put(o, A_PatientOrientation, v->orientation);
        put(o, A_ViewPosition, v->position);
        put(o, A_ImageLaterality, v->laterality);
        dest code = put_code(o, A_ViewCodeSequence, v->code, "SCT", v->meaning);
        put_empty_sequence(code, A_ViewModifierCodeSequence);
        put(o, A_PositionerType, "MAMMOGRAPHIC");
        put(o, A_OrganExposed, "BREAST");
        put(o, A_BreastImplantPresent, "NO");
        put_ds(o, A_BodyPartThickness, 45 + (p->index + i) % 20);
        put_ds(o, A_CompressionForce, 90 + (p->index * 7 + i) % 60);
        put(o, A_AnodeTargetMaterial, "TUNGSTEN");
        put(o, A_FilterMaterial, "RHODIUM");
        put_ds(o, A_EntranceDoseInmGy, 4.2 + 0.1 * (i % 8));
        put_ds(o, A_OrganDose, 1.1 + 0.05 * (i % 8));
        xray_technique(o, se, 660, 640);
    } else {
        const view *v = &ex->views[i % (ex->nviews ? ex->nviews : 1)];
        put(o, A_PatientOrientation, v->orientation);
        put(o, A_ViewPosition, v->position);
        if (se->mod == M_DX) {
            put(o, A_ImageLaterality, st->laterality ? st->laterality : "U");
            put(o, A_PositionerType, chest ? "COLUMN" : "RIGID");
        }
        xray_technique(o, se, chest ? 1800 : 1000, chest ? 1650 : 900);
    }
    if (se->mod == M_CR) {
        put(o, A_ImageType, "ORIGINAL\\PRIMARY");
        putf(o, A_PlateID, "PL%05u", (unsigned)(mix64(se->number + 77u * st->index) % 100000));
        put(o, A_PlateType, "ST-VI");
        put(o, A_PhosphorType, "BaFBr:Eu");
        putf(o, A_AcquisitionDeviceProcessingDescription, "%s %s", ex->body_part,
             ex->views[i % (ex->nviews ? ex->nviews : 1)].position);
    } else {
        put(o, A_ImageType, "ORIGINAL\\PRIMARY");
        put(o, A_PresentationIntentType, "FOR PRESENTATION");
        put_code(o, A_AnatomicRegionSequence, ex->code, "SCT", ex->meaning);
        put(o, A_PixelIntensityRelationship, "LIN");
        put_int(o, A_PixelIntensityRelationshipSign, 1);
        put_ds(o, A_RescaleIntercept, 0);
        put_ds(o, A_RescaleSlope, 1);
        put(o, A_RescaleType, "US");
        put(o, A_PresentationLUTShape, "IDENTITY");
        put(o, A_DetectorType, "SCINTILLATOR");
        put_empty_sequence(o, A_AcquisitionContextSequence);
    }
    voi_module(o, se->wc, se->ww, "");
}

static void us_module(dest o, const study *st)
{
    const exam *ex = st->ex;
    bool linear = ex->ph == PH_BREAST || ex->ph == PH_NECK;
    putf(o, A_ImageType, "ORIGINAL\\PRIMARY\\%s\\0001", ex->us_type);
    put(o, A_PatientOrientation, "");
    put(o, A_TransducerData, linear ? "L12-5" : "C5-1");
    put(o, A_TransducerType, linear ? "LINEAR" : "CURVED LINEAR");
    put(o, A_ProcessingFunction, ex->body_part);
    put_ds(o, A_MechanicalIndex, 1.1);
    put_ds(o, A_SoftTissueThermalIndex, 0.4);
    put_int(o, A_DepthOfScanField, (int64_t)ex->fov);
    put_int(o, A_UltrasoundColorDataPresent, 0);
}

/* ---- writing files ---------------------------------------------------------------------- */

typedef struct fd_sink {
    int fd;
    int errnum;
    uint64_t bytes;
} fd_sink;

static bool sink_fd(void *ctx, const void *data, size_t len)
{
    fd_sink *s = ctx;
    const uint8_t *p = data;
    while (len) {
        ssize_t n = write(s->fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            s->errnum = n < 0 ? errno : EIO;
            return false;
        }
        p += n;
        len -= (size_t)n;
        s->bytes += (uint64_t)n;
    }
    return true;
}

static bool fail(worker *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static bool fail(worker *w, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(w->error, sizeof w->error, fmt, ap);
    va_end(ap);
    return false;
}

static bool make_dir(worker *w, const char *path)
{
    if (mkdir(path, 0755) != 0 && errno != EEXIST)
        return fail(w, "%s: cannot create directory: %s", path, strerror(errno));
    return true;
}

/* Append "/name" to w->path. */
static bool path_push(worker *w, const char *name, const char *suffix)
{
    size_t n = strlen(w->path);
    int k = snprintf(w->path + n, sizeof w->path - n, "/%s%s", name, suffix);
    if (k < 0 || (size_t)k >= sizeof w->path - n) {
        w->path[n] = '\0';
        return fail(w, "%s/%s%s: path too long", w->path, name, suffix);
    }
    return true;
}

static void path_pop(worker *w)
{
    char *slash = strrchr(w->path, '/');
    if (slash)
        *slash = '\0';
}

static bool write_image(worker *w, const person *p, const study *st, const series *se,
                        unsigned i)
{
    synth *run = w->run;
    obia_error err;
    obia_error_clear(&err);
    obia_dataset *ds = obia_dataset_new();
    if (!ds)
        return fail(w, "out of memory");
    dest o = {ds, &err};
    char uid[65];
    make_uid(uid, run->seed, p->index, st->index, se->index, i, U_INSTANCE);
    bool volume = se->mod == M_CT || se->mod == M_MR || se->mod == M_PT;
    int64_t acquired = (int64_t)se->time * 1000 + se->micro / 1000 + (int64_t)i * se->dt_ms;

    if (st->utf8)
        put(o, A_SpecificCharacterSet, "ISO_IR 192");
    put(o, A_SOPClassUID, modalities[se->mod].sop_class);
    put(o, A_SOPInstanceUID, uid);
    put_date_time(o, A_InstanceCreationDate, A_InstanceCreationTime, st->day, acquired + 45000,
                  false);
    patient_modules(o, p, st);
    study_equipment_modules(o, st, se);
    series_module(o, st, se);
    if (volume) {
        put(o, A_FrameOfReferenceUID, st->frame_uid);
        put(o, A_PositionReferenceIndicator, "");
        image_plane_module(o, se, i);
    }
    /* General Image */
    put_int(o, A_InstanceNumber, i + 1);
    put_int(o, A_AcquisitionNumber, 1);
    put_date_time(o, A_AcquisitionDate, A_AcquisitionTime, st->day, acquired, true);
    put_date_time(o, A_ContentDate, A_ContentTime, st->day, acquired + 20000, true);
    if (i == 0 && st->comment[0])
        put(o, A_ImageComments, st->comment);
    put(o, A_BurnedInAnnotation, se->mod == M_US ? "YES" : "NO");
    put(o, A_LossyImageCompression, "00");
    pixel_module(o, st, se);

    double slope = 1;
    uint64_t noise_seed = mix64(mix64(run->seed ^ mix64(p->index)) ^
                                ((uint64_t)st->index << 48 | (uint64_t)se->index << 32 | i));
    size_t n = render(w, p, st, se, i, noise_seed, &slope);
    switch (se->mod) {
    case M_CT: ct_module(o, st, se); break;
    case M_MR: mr_module(o, st, se); break;
    case M_PT: pet_module(o, st, se, i, slope); break;
    case M_US: us_module(o, st); break;
    default: projection_module(o, p, st, se, i); break;
    }
    /* a private block, as vendors write them */
    obia_dataset_set_string(ds, OBIA_TAG(PRIVATE_GROUP, 0x0010), OBIA_VR_LO, PRIVATE_CREATOR, &err);
    char factor[24];
    format_ds(factor, 0.5 + (double)(mix64(noise_seed) % 1000) / 1000);
    obia_dataset_set_string(ds, OBIA_TAG(PRIVATE_GROUP, 0x1001), OBIA_VR_DS, factor, &err);
    obia_dataset_set_string(ds, OBIA_TAG(PRIVATE_GROUP, 0x1002), OBIA_VR_LO, p->id, &err);
    obia_dataset_set_bytes(ds, attrs[A_PixelData].tag, se->mod == M_US ? OBIA_VR_OB : OBIA_VR_OW,
                           w->pixels, n, &err);
    if (obia_error_is_set(&err)) {
        obia_dataset_free(ds);
        return fail(w, "%s: building image %u: %s", w->path, i + 1, err.message);
    }

    if (!path_push(w, uid, ".dcm")) {
        obia_dataset_free(ds);
        return false;
    }
    bool ok = true;
    fd_sink sink = {open(w->path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644), 0, 0};
    if (sink.fd < 0) {
        ok = fail(w, "%s: cannot create: %s", w->path, strerror(errno));
    } else {
        if (!obia_write_part10(ds, NULL, NULL, OBIA_WRITE_EXPLICIT_LE, sink_fd, &sink, &err))
            ok = sink.errnum ? fail(w, "%s: cannot write: %s", w->path, strerror(sink.errnum))
                             : fail(w, "%s: %s", w->path, err.message);
        if (close(sink.fd) != 0 && ok)
            ok = fail(w, "%s: cannot write: %s", w->path, strerror(errno));
        if (!ok)
            unlink(w->path);
    }
    path_pop(w);
    obia_dataset_free(ds);
    w->bytes += sink.bytes;
    w->images++;
    return ok;
}

/* ---- planning studies and series ---------------------------------------------------------- */

/* A member of staff: Family^Given, sometimes with a "Dr." prefix, with the
 * ideographic group where the culture has one. */
static void staff_name(char *out, size_t n, rng *r, const culture *c, bool doctor)
{
    const char *fam = PICK(r, c->family, c->nfamily);
    const char *giv = rchance(r, 50) ? PICK(r, c->male, c->nmale) : PICK(r, c->female, c->nfemale);
    char f[3][64], g[3][64];
    for (int k = 0; k < 3; k++) {
        name_group(f[k], sizeof f[k], fam, k);
        name_group(g[k], sizeof g[k], giv, k);
    }
    char alpha[140];
    snprintf(alpha, sizeof alpha, "%s^%s%s", f[0], g[0], doctor && rchance(r, 50) ? "^^Dr." : "");
    if (is_ascii(alpha) && rchance(r, 30))
        upper_ascii(alpha);
    if (f[1][0])
        snprintf(out, n, "%s=%s^%s", alpha, f[1], g[1]);
    else
        snprintf(out, n, "%s", alpha);
}

static void plan_study(const synth *run, const person *p, study *st, unsigned s, rng *r,
                       int previous_day)
{
    memset(st, 0, sizeof *st);
    st->index = s;
    uint64_t global = p->first_study + s;
    modality mod = run->mods[global % run->nmods];
    const exam *all[COUNT(exams)], *preferred[COUNT(exams)];
    size_t na = 0, np = 0;
    for (size_t k = 0; k < COUNT(exams); k++)
        if (exams[k].mod == mod) {
            all[na++] = &exams[k];
            if (exams[k].diseases & DB(p->disease))
                preferred[np++] = &exams[k];
        }
    st->ex = np && rchance(r, 75) ? PICK(r, preferred, np) : PICK(r, all, na);
    const exam *ex = st->ex;
    st->day = s == 0 ? p->first_day : previous_day + rrange(r, 14, 400);
    st->time = rrange(r, 7 * 3600, 18 * 3600 + 1800);
    st->age = age_at(p->birth, st->day);
    st->institution = s == 0 || rchance(r, 80) ? p->institution : rbelow(r, COUNT(institutions));
    const struct institution *in = &institutions[st->institution];

    /* each institution has one device per modality, fixed for the seed */
    uint64_t dh = mix64(run->seed ^ mix64(st->institution * 16u + mod));
    size_t nmodels = 0;
    for (size_t k = 0; k < COUNT(device_models); k++)
        nmodels += device_models[k].mod == mod;
    size_t pick = dh % nmodels;
    for (size_t k = 0; k < COUNT(device_models); k++)
        if (device_models[k].mod == mod && pick-- == 0)
            st->device = &device_models[k];
    snprintf(st->station, sizeof st->station, "%s-%s%u", in->issuer, modalities[mod].name,
             (unsigned)(dh >> 20) % 3 + 1);
    snprintf(st->serial, sizeof st->serial, "%u", (unsigned)(dh >> 32) % 900000 + 100000);

    make_uid(st->uid, run->seed, p->index, s, 0, 0, U_STUDY);
    make_uid(st->frame_uid, run->seed, p->index, s, 0, 0, U_FRAME);
    /* unique in the run: a bijection of the study's number modulo 10^10 */
    uint64_t acc = (mix64(run->seed ^ 0xACCull) % 10000000000ull + global * 7919ull) %
                   10000000000ull;
    snprintf(st->accession, sizeof st->accession, "%010llu", (unsigned long long)acc);
    snprintf(st->study_id, sizeof st->study_id, "%u", (unsigned)(acc % 99991) + 1);
    snprintf(st->request_id, sizeof st->request_id, "RQ%08llu",
             (unsigned long long)(acc % 100000000ull));
    snprintf(st->step_id, sizeof st->step_id, "SPS%08llu", (unsigned long long)(acc % 100000000ull));
    snprintf(st->pps_id, sizeof st->pps_id, "PPS%08llu", (unsigned long long)(acc % 100000000ull));

    if (rchance(r, 12)) {
        char d[160];
        snprintf(d, sizeof d, "%s - %s, %s", ex->description, p->family, p->given);
        copy_utf8(st->description, sizeof st->description, d);
    } else {
        copy_utf8(st->description, sizeof st->description, ex->description);
    }
    const culture *staff = &cultures[in->culture];
    staff_name(st->referring, sizeof st->referring, r, staff, true);
    staff_name(st->performing, sizeof st->performing, r, staff, true);
    staff_name(st->operators, sizeof st->operators, r, staff, false);
    if (rchance(r, 40)) {
        size_t n = strlen(st->operators);
        st->operators[n] = '\\';
        staff_name(st->operators + n + 1, sizeof st->operators - n - 1, r, staff, false);
    }
    if (ex->paired && mod != M_MG)
        st->laterality = rchance(r, 50) ? "R" : "L";
    st->lesion = p->disease != D_HEALTHY && (ex->diseases & DB(p->disease));
    st->history = rchance(r, 35);
    if (rchance(r, 25)) {
        char phone[32], family[64];
        expand(phone, sizeof phone, staff->phone, r, "", "");
        name_group(family, sizeof family, PICK(r, staff->family, staff->nfamily), 0);
        switch (rbelow(r, 3)) {
        case 0:
            snprintf(st->comment, sizeof st->comment, "Please call Dr. %s on %s with results",
                     family, phone);
            break;
        case 1:
            snprintf(st->comment, sizeof st->comment, "Patient can be reached at %s", p->phone);
            break;
        default:
            textf(st->comment, sizeof st->comment, "%s %s arrived late, contact %s", p->given,
                     p->family, p->phone);
            break;
        }
    }
    st->utf8 = !is_ascii(p->name) || !is_ascii(p->address) || !is_ascii(in->name) ||
               !is_ascii(in->address) || !is_ascii(st->referring) || !is_ascii(st->performing) ||
               !is_ascii(st->operators) || !is_ascii(st->description) || !is_ascii(st->comment) ||
               !is_ascii(p->diagnosis) || !is_ascii(p->history) || !is_ascii(p->family_history);

    static const double z_of[PH_COUNT] = {[PH_HEAD] = -60, [PH_NECK] = -160, [PH_CHEST] = -300,
                                          [PH_BREAST] = -280, [PH_ABDOMEN] = -450,
                                          [PH_PELVIS] = -620, [PH_KNEE] = -1250, [PH_SPINE] = -520};
    st->z_center = z_of[ex->ph] + rrange(r, -30, 30);
    if (mod == M_PT) {
        st->half_life = 6586.2;
        st->dose = 3.7e6 * p->weight * runiform(r, 0.9, 1.1);
        st->injection = st->time - rrange(r, 3300, 4200);
    }
}

static double max_tissue(contrast c)
{
    int max = 1;
    for (int t = 0; t < T_COUNT; t++)
        if (t != T_LESION && tissue_value[c][t] > max)
            max = tissue_value[c][t];
    return max;
}

static void cross(const double a[3], const double b[3], double out[3])
{
    out[0] = a[1] * b[2] - a[2] * b[1];
    out[1] = a[2] * b[0] - a[0] * b[2];
    out[2] = a[0] * b[1] - a[1] * b[0];
}

static void plan_series(const synth *run, const person *p, const study *st, series *se,
                        unsigned k, rng *r, bool ct_allowed)
{
    const exam *ex = st->ex;
    memset(se, 0, sizeof *se);
    se->index = k;
    se->mod = ex->mod == M_PT && k % 3 == 1 && ct_allowed ? M_CT : ex->mod;
    se->number = (int)k + 1 + (ex->mod == M_CT);
    make_uid(se->uid, run->seed, p->index, st->index, k, 0, U_SERIES);
    const struct modality_info *mi = &modalities[se->mod];
    se->rows = run->rows ? run->rows : mi->rows;
    se->columns = run->columns ? run->columns : mi->columns;
    se->images = run->images ? run->images : mi->images ? mi->images : 1 + rbelow(r, 2);
    se->time = st->time + 60 + (int)k * rrange(r, 180, 480);
    se->micro = (int)rbelow(r, 1000) * 1000;
    se->spacing = ex->fov / (se->rows > se->columns ? se->rows : se->columns);
    se->pl = P_AXIAL;
    const series_plan *plan = &ex->series[k % ex->nseries];
    switch (se->mod) {
    case M_CT:
        se->ct = &ct_kinds[ex->mod == M_PT ? CK_AC : plan->kind];
        se->c = C_CT;
        se->thickness = se->ct->thickness;
        se->wc = se->ct->wc;
        se->ww = se->ct->ww;
        snprintf(se->description, sizeof se->description, "%s", se->ct->description);
        se->kvp = ex->ph == PH_HEAD ? 120 : rchance(r, 50) ? 100 : 120;
        se->ma = rrange(r, 150, 380);
        se->exposure_ms = 500;
        se->dt_ms = 350;
        break;
    case M_MR: {
        static const char *const plane_name[] = {"AX", "SAG", "COR"};
        se->mr = &mr_seqs[plan->kind];
        se->c = se->mr->c;
        se->pl = plan->pl;
        se->thickness = strcmp(se->mr->acquisition, "3D") == 0 ? 1 : ex->fov < 200 ? 3 : 5;
        se->wc = max_tissue(se->c) * 0.45;
        se->ww = max_tissue(se->c) * 0.9;
        snprintf(se->description, sizeof se->description, "%s %s", se->mr->description,
                 plane_name[se->pl]);
        break;
    }
    case M_PT: {
        se->c = C_PT;
        se->thickness = ex->ph == PH_HEAD ? 2.03 : 3.27;
        se->attenuation_corrected = k % 3 != 2;
        snprintf(se->description, sizeof se->description, "PET %s %s",
                 ex->ph == PH_HEAD ? "BRAIN" : "WB", se->attenuation_corrected ? "AC" : "NAC");
        double decayed = st->dose * pow(2, -(se->time - st->injection) / st->half_life);
        se->suv_to_bq = decayed / (p->weight * 1000);
        se->ww = (ex->ph == PH_HEAD ? 12 : 7) * se->suv_to_bq;
        se->wc = se->ww / 2;
        break;
    }
    case M_CR:
    case M_DX:
        se->c = C_XR;
        se->wc = 2048;
        se->ww = 3600;
        if (ex->nviews > 1 && se->images > 1)
            snprintf(se->description, sizeof se->description, "%s %s/%s", ex->body_part,
                     ex->views[0].position, ex->views[1].position);
        else
            snprintf(se->description, sizeof se->description, "%s %s", ex->body_part,
                     ex->views[0].position);
        se->kvp = ex->ph == PH_CHEST_PA ? 120 : rrange(r, 55, 75);
        se->ma = rrange(r, 160, 320);
        se->exposure_ms = rrange(r, 8, 40);
        se->dt_ms = 45000;
        break;
    case M_MG:
        se->c = C_MG;
        se->wc = 2200;
        se->ww = 3000;
        snprintf(se->description, sizeof se->description, "%s VIEWS",
                 strstr(ex->description, "SCREENING") ? "SCREENING" : "DIAGNOSTIC");
        se->kvp = rrange(r, 26, 32);
        se->ma = rrange(r, 80, 160);
        se->exposure_ms = rrange(r, 400, 1200);
        se->dt_ms = 60000;
        break;
    case M_US:
        se->c = C_US;
        snprintf(se->description, sizeof se->description, "%s %s", ex->body_part,
                 k ? "SWEEP" : "SURVEY");
        se->dt_ms = 15000;
        break;
    default:
        break;
    }
    if (se->mod == M_CT || se->mod == M_MR || se->mod == M_PT) {
        static const double dirs[3][2][3] = {
            [P_AXIAL] = {{1, 0, 0}, {0, 1, 0}},
            [P_SAGITTAL] = {{0, 1, 0}, {0, 0, -1}},
            [P_CORONAL] = {{1, 0, 0}, {0, 0, -1}},
        };
        memcpy(se->row, dirs[se->pl][0], sizeof se->row);
        memcpy(se->col, dirs[se->pl][1], sizeof se->col);
        cross(se->row, se->col, se->normal);
        double center[3] = {0, 0, st->z_center};
        if (st->laterality)
            center[0] = st->laterality[0] == 'R' ? -100 : 100;   /* LPS: +x is the left */
        for (int d = 0; d < 3; d++)
            se->origin[d] = center[d] - se->columns / 2.0 * se->spacing * se->row[d] -
                            se->rows / 2.0 * se->spacing * se->col[d] -
                            (se->images - 1) / 2.0 * se->thickness * se->normal[d];
    }
}

/* ---- workers ----------------------------------------------------------------------------- */

static bool generate_person(worker *w, const person *p)
{
    synth *run = w->run;
    rng r = {mix64(run->seed ^ mix64(0xC0FFEEull + p->index))};
    bool ct_allowed = false;
    for (unsigned k = 0; k < run->nmods; k++)
        ct_allowed |= run->mods[k] == M_CT;
    snprintf(w->path, sizeof w->path, "%s", run->out);
    if (!path_push(w, p->id, "") || !make_dir(w, w->path))
        return false;
    int previous_day = 0;
    for (unsigned s = 0; s < p->nstudies; s++) {
        study st;
        plan_study(run, p, &st, s, &r, previous_day);
        previous_day = st.day;
        if (!path_push(w, st.uid, "") || !make_dir(w, w->path))
            return false;
        unsigned nseries = run->series ? run->series : 1 + rbelow(&r, 3);
        for (unsigned k = 0; k < nseries; k++) {
            series se;
            plan_series(run, p, &st, &se, k, &r, ct_allowed);
            if ((size_t)se.rows * se.columns > w->capacity)
                return fail(w, "internal error: image buffer too small");
            if (!path_push(w, se.uid, "") || !make_dir(w, w->path))
                return false;
            for (unsigned i = 0; i < se.images; i++)
                if (!write_image(w, p, &st, &se, i))
                    return false;
            path_pop(w);
            w->series++;
        }
        path_pop(w);
        w->studies++;
    }
    return true;
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    synth *run = w->run;
    for (;;) {
        pthread_mutex_lock(&run->lock);
        unsigned index = run->next;
        bool stop = run->failed || index >= run->individuals;
        if (!stop)
            run->next++;
        pthread_mutex_unlock(&run->lock);
        if (stop)
            break;
        if (!generate_person(w, &run->people[index])) {
            pthread_mutex_lock(&run->lock);
            if (!run->failed) {
                run->failed = true;
                snprintf(run->error, sizeof run->error, "%s", w->error);
            }
            pthread_mutex_unlock(&run->lock);
            break;
        }
    }
    return NULL;
}

/* ---- the command ------------------------------------------------------------------------------ */

/* A decimal number of at most 20 digits, no sign, within [lo, hi]. */
static bool parse_number(const char *s, uint64_t lo, uint64_t hi, uint64_t *out)
{
    uint64_t v = 0;
    size_t n = 0;
    for (; s[n]; n++) {
        if (s[n] < '0' || s[n] > '9')
            return false;
        unsigned d = (unsigned)(s[n] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    if (n == 0 || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

static bool parse_modalities(const char *s, synth *run)
{
    run->nmods = 0;
    const char *p = s;
    for (;;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        int found = -1;
        for (int m = 0; m < M_COUNT; m++)
            if (len == strlen(modalities[m].name) && strncasecmp(p, modalities[m].name, len) == 0)
                found = m;
        if (len == 0) {
            cli_usage_error("synth", "empty item in --modalities '%s'", s);
            return false;
        }
        if (found < 0) {
            cli_usage_error("synth", "unknown modality '%.*s' in --modalities (choose from "
                                     "CT,MR,CR,DX,US,MG,PT)",
                            (int)len, p);
            return false;
        }
        bool dup = false;
        for (unsigned k = 0; k < run->nmods; k++)
            dup |= run->mods[k] == (modality)found;
        if (!dup)
            run->mods[run->nmods++] = (modality)found;
        if (!end)
            return true;
        p = end + 1;
    }
}

static const struct count_option {
    const char *name;
    size_t field;     /* offset in synth */
    unsigned lo, hi;
} count_options[] = {
    {"--individuals", offsetof(synth, individuals), 1, MAX_INDIVIDUALS},
    {"--studies", offsetof(synth, studies), 1, MAX_STUDIES},
    {"--series", offsetof(synth, series), 1, MAX_SERIES},
    {"--images", offsetof(synth, images), 1, MAX_IMAGES},
    {"--rows", offsetof(synth, rows), MIN_SIZE, MAX_SIZE},
    {"--columns", offsetof(synth, columns), MIN_SIZE, MAX_SIZE},
    {"--jobs", offsetof(synth, jobs), 1, MAX_JOBS},
};

/* The attribute table must name the tags the dictionary does. */
static bool attrs_match_dictionary(void)
{
    for (int a = 0; a < A_COUNT; a++) {
        const obia_dict_entry *e = obia_dict_lookup(attrs[a].tag);
        if (!e || strcmp(e->keyword, attrs[a].keyword) != 0) {
            fprintf(stderr, "obia synth: internal error: (%04X,%04X) is not %s\n",
                    OBIA_GROUP(attrs[a].tag), OBIA_ELEM(attrs[a].tag), attrs[a].keyword);
            return false;
        }
    }
    return true;
}

static bool make_dirs(const char *path, char *why, size_t wn)
{
    char buf[4096];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf) {
        snprintf(why, wn, "%s: path too long", path);
        return false;
    }
    for (char *p = buf + 1;; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        char c = *p;
        *p = '\0';
        struct stat sb;
        if (mkdir(buf, 0755) != 0 && (errno != EEXIST || stat(buf, &sb) != 0 ||
                                      !S_ISDIR(sb.st_mode))) {
            snprintf(why, wn, "%s: cannot create directory: %s", buf,
                     errno == EEXIST ? strerror(ENOTDIR) : strerror(errno));
            return false;
        }
        *p = c;
        if (!c)
            return true;
    }
}

int cmd_synth(int argc, char **argv)
{
    synth run;
    memset(&run, 0, sizeof run);
    run.seed = 1;
    int i = 1;
    for (const char *a; (a = cli_next_option(argc, argv, &i)) != NULL;) {
        const struct count_option *co = NULL;
        for (size_t k = 0; k < COUNT(count_options); k++)
            if (strcmp(a, count_options[k].name) == 0)
                co = &count_options[k];
        if (!co && strcmp(a, "--out") != 0 && strcmp(a, "--seed") != 0 &&
            strcmp(a, "--modalities") != 0)
            return cli_usage_error("synth", "unknown option '%s'", a);
        const char *val = cli_option_value("synth", a, argc, argv, &i);
        if (!val)
            return 2;
        uint64_t v;
        if (co) {
            if (!parse_number(val, co->lo, co->hi, &v))
                return cli_usage_error("synth", "%s must be a whole number from %u to %u, not '%s'",
                                       a, co->lo, co->hi, val);
            *(unsigned *)((char *)&run + co->field) = (unsigned)v;
        } else if (strcmp(a, "--out") == 0) {
            if (!*val)
                return cli_usage_error("synth", "--out needs a directory");
            run.out = val;
        } else if (strcmp(a, "--seed") == 0) {
            if (!parse_number(val, 0, UINT64_MAX, &run.seed))
                return cli_usage_error("synth", "--seed must be a whole number from 0 to %llu, "
                                                "not '%s'",
                                       (unsigned long long)UINT64_MAX, val);
        } else if (!parse_modalities(val, &run)) {
            return 2;
        }
    }
    if (i < argc)
        return cli_usage_error("synth", "unexpected argument '%s'", argv[i]);
    if (!run.out)
        return cli_usage_error("synth", "--out DIR is required");
    if (!run.individuals)
        return cli_usage_error("synth", "--individuals N is required");
    if (!run.nmods)
        for (int m = 0; m < M_COUNT; m++)
            run.mods[run.nmods++] = (modality)m;
    if (run.rows && !run.columns)
        run.columns = run.rows;
    if (run.columns && !run.rows)
        run.rows = run.columns;
    /* the most images the options allow */
    unsigned most_images = run.images ? run.images : 20;
    uint64_t total = (uint64_t)run.individuals * (run.studies ? run.studies : 2) *
                     (run.series ? run.series : 3) * most_images;
    if (total > MAX_TOTAL_IMAGES)
        return cli_usage_error("synth", "these options allow up to %llu images; at most %llu",
                               (unsigned long long)total, MAX_TOTAL_IMAGES);
    if (!attrs_match_dictionary())
        return 1;
    fill_noise_table();

    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int status = 0;
    worker *workers = NULL;
    unsigned started = 0;
    char path[4200];
    run.people = calloc(run.individuals, sizeof *run.people);
    if (!run.people) {
        fprintf(stderr, "obia synth: out of memory\n");
        return 1;
    }
    uint64_t studies_before = 0;
    for (unsigned k = 0; k < run.individuals; k++) {
        plan_person(&run.people[k], run.seed, k, run.studies);
        run.people[k].first_study = studies_before;
        studies_before += run.people[k].nstudies;
    }
    if (!make_dirs(run.out, run.error, sizeof run.error)) {
        status = 1;
        goto out;
    }
    if (snprintf(path, sizeof path, "%s/clinical.csv", run.out) >= (int)sizeof path) {
        snprintf(run.error, sizeof run.error, "%s: path too long", run.out);
        status = 1;
        goto out;
    }
    if (!write_csv(path, run.people, run.individuals, run.error, sizeof run.error)) {
        status = 1;
        goto out;
    }

    size_t capacity = 0;
    for (unsigned k = 0; k < run.nmods; k++) {
        const struct modality_info *mi = &modalities[run.mods[k]];
        size_t px = (size_t)(run.rows ? run.rows : mi->rows) * (run.columns ? run.columns : mi->columns);
        if (px > capacity)
            capacity = px;
    }
    if (!run.rows && capacity < 256 * 256)   /* the CT of a PET/CT */
        capacity = 256 * 256;
    if (!run.jobs) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        run.jobs = n < 1 ? 1 : n > (long)MAX_JOBS ? MAX_JOBS : (unsigned)n;
    }
    if (run.jobs > run.individuals)
        run.jobs = run.individuals;
    /* each worker holds 7 bytes per pixel of the largest image: keep to 1 GiB */
    while (run.jobs > 1 && (uint64_t)run.jobs * capacity * 7 > (1ull << 30))
        run.jobs--;
    workers = calloc(run.jobs, sizeof *workers);
    if (!workers) {
        snprintf(run.error, sizeof run.error, "out of memory");
        status = 1;
        goto out;
    }
    pthread_mutex_init(&run.lock, NULL);
    for (unsigned k = 0; k < run.jobs; k++) {
        worker *w = &workers[k];
        w->run = &run;
        w->capacity = capacity;
        w->values = malloc(capacity * sizeof *w->values);
        w->pixels = malloc(capacity * 3);
        if (!w->values || !w->pixels) {
            snprintf(run.error, sizeof run.error, "out of memory");
            run.failed = true;
            break;
        }
        if (pthread_create(&w->thread, NULL, worker_main, w) != 0) {
            snprintf(run.error, sizeof run.error, "cannot start a worker thread");
            run.failed = true;
            break;
        }
        started++;
    }
    for (unsigned k = 0; k < started; k++)
        pthread_join(workers[k].thread, NULL);
    pthread_mutex_destroy(&run.lock);
    uint64_t studies = 0, nseries = 0, images = 0, bytes = 0;
    for (unsigned k = 0; k < run.jobs; k++) {
        studies += workers[k].studies;
        nseries += workers[k].series;
        images += workers[k].images;
        bytes += workers[k].bytes;
        free(workers[k].values);
        free(workers[k].pixels);
    }
    if (run.failed) {
        status = 1;
        goto out;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    fprintf(stderr,
            "obia synth: %u individuals, %llu studies, %llu series, %llu images, %llu bytes in "
            "%.2f s (%.0f images/s)\n",
            run.individuals, (unsigned long long)studies, (unsigned long long)nseries,
            (unsigned long long)images, (unsigned long long)bytes, secs,
            secs > 0 ? (double)images / secs : 0.0);
out:
    if (status)
        fprintf(stderr, "obia synth: %s\n", run.error);
    free(workers);
    free(run.people);
    return status;
}
