//! Augmentation options of `train`, `retrain` and `search`: a preset plus per-option
//! overrides (see `mpcvit::train::Augment` for what each does).

use mpcvit::train::Augment;
use mpcvit::Result;

/// Training-data augmentation.
#[derive(clap::Args, Debug, Clone)]
pub struct AugmentArgs {
    /// Augmentation preset: `default` (shifts; flips for clothing), `robust` (issue #13: affine,
    /// elastic and stroke thickness for digits; affine, brightness / contrast and erasing for
    /// clothing) or `none`. The options below override single settings of the preset.
    #[arg(long, default_value = "default")]
    pub augment: String,
    /// Largest random shift in whole pixels.
    #[arg(long)]
    pub shift: Option<usize>,
    /// Random horizontal flips (default: on for `fashion`, off for digits).
    #[arg(long)]
    pub hflip: Option<bool>,
    /// Largest rotation in degrees.
    #[arg(long)]
    pub rotate: Option<f32>,
    /// Largest relative scale change (0.15: 85% to 115%).
    #[arg(long)]
    pub scale: Option<f32>,
    /// Largest shear in degrees.
    #[arg(long)]
    pub shear: Option<f32>,
    /// Largest sub-pixel translation in pixels (on top of --shift).
    #[arg(long)]
    pub translate: Option<f32>,
    /// Largest stroke-thickness change, 0 to 1 (1 = one dilation or erosion).
    #[arg(long)]
    pub thickness: Option<f32>,
    /// Largest elastic-distortion intensity alpha in pixels (Simard et al. 2003); 0 is off.
    #[arg(long)]
    pub elastic: Option<f32>,
    /// Smoothness sigma of the elastic field in pixels.
    #[arg(long)]
    pub elastic_sigma: Option<f32>,
    /// Largest brightness offset (fraction of full scale).
    #[arg(long)]
    pub brightness: Option<f32>,
    /// Largest relative contrast change.
    #[arg(long)]
    pub contrast: Option<f32>,
    /// Probability of random erasing (one rectangle of 2% to 20% of the image).
    #[arg(long)]
    pub erase: Option<f32>,
}

impl AugmentArgs {
    /// The preset for `dataset` with the overrides applied, validated.
    pub fn augment(&self, dataset: &str) -> Result<Augment> {
        let mut a = Augment::preset(&self.augment, dataset)?;
        if let Some(v) = self.shift {
            a.max_shift = v;
        }
        if let Some(v) = self.hflip {
            a.hflip = v;
        }
        let overrides = [
            (self.rotate, &mut a.rotate),
            (self.scale, &mut a.scale),
            (self.shear, &mut a.shear),
            (self.translate, &mut a.translate),
            (self.thickness, &mut a.thickness),
            (self.elastic, &mut a.elastic),
            (self.elastic_sigma, &mut a.elastic_sigma),
            (self.brightness, &mut a.brightness),
            (self.contrast, &mut a.contrast),
            (self.erase, &mut a.erase),
        ];
        for (value, field) in overrides {
            if let Some(v) = value {
                *field = v;
            }
        }
        a.validate()?;
        Ok(a)
    }
}
