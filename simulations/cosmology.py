"""Cosmology and galaxy scaling relations for the simulator (pure: no Django).

Flat LCDM with H0 = 70 km/s/Mpc and Omega_m = 0.3 (He et al. 2020), through
astropy.cosmology. Masses in Msun, velocities in km/s, angles in arcsec.
"""

import functools

import numpy as np
from astropy import constants as const
from astropy import units as u
from astropy.cosmology import FlatLambdaCDM
from numpy.typing import ArrayLike

COSMO = FlatLambdaCDM(H0=70.0, Om0=0.3)
H_LITTLE = COSMO.H0.value / 100.0
C_KMS = const.c.to_value(u.km / u.s)
G_KPC_KMS2_MSUN = const.G.to_value(u.kpc * u.km**2 / u.s**2 / u.Msun)
RAD_TO_ARCSEC = 180.0 / np.pi * 3600.0

# Faber-Jackson in r (L ~ sigma^4): M_r = M_R_AT_200 - 10 log10(sigma / 200 km/s).
# He et al. take the coefficient from Schneider (2014) without quoting it;
# this normalisation follows Bernardi et al. 2003 (SDSS r, h = 0.7).
M_R_AT_200 = -21.2
# A rough r-band K-correction for an old elliptical, K(z) ~ 1.2 z (z < 1).
K_CORRECTION_PER_Z = 1.2


Z_GRID_MAX = 6.0
Z_GRID_STEP = 5e-4


@functools.cache
def _comoving_table():
    z = np.arange(0.0, Z_GRID_MAX + Z_GRID_STEP, Z_GRID_STEP)
    return z, COSMO.comoving_distance(z).to_value(u.kpc)


def comoving_distance_kpc(z: ArrayLike) -> np.ndarray:
    """Comoving distance, kpc, interpolated from a fine table (relative error < 1e-7)."""
    z = np.asarray(z, float)
    if np.any(z < 0) or np.any(z > Z_GRID_MAX):
        raise ValueError(f"Redshifts must lie in [0, {Z_GRID_MAX}].")
    grid, d_c = _comoving_table()
    return np.interp(z, grid, d_c)


def distance_ratio(z_l: ArrayLike, z_s: ArrayLike) -> np.ndarray:
    """``D_ls / D_s``; in a flat universe ``(D_C(z_s) - D_C(z_l)) / D_C(z_s)``."""
    d_l, d_s = comoving_distance_kpc(z_l), comoving_distance_kpc(z_s)
    return np.clip((d_s - d_l) / d_s, 0.0, None)


def theta_E_from_sigma(sigma_kms: ArrayLike, z_l: ArrayLike, z_s: ArrayLike) -> np.ndarray:
    """Einstein radius, arcsec, of an SIS/SIE: ``4 pi (sigma/c)^2 D_ls/D_s`` (eq. 10)."""
    return (
        4 * np.pi * (np.asarray(sigma_kms) / C_KMS) ** 2 * distance_ratio(z_l, z_s) * RAD_TO_ARCSEC
    )


def sigma_from_theta_E(theta_E_arcsec: ArrayLike, z_l: ArrayLike, z_s: ArrayLike) -> np.ndarray:
    return C_KMS * np.sqrt(
        np.asarray(theta_E_arcsec) / RAD_TO_ARCSEC / (4 * np.pi * distance_ratio(z_l, z_s))
    )


def hubble_kms_per_kpc(z: ArrayLike) -> np.ndarray:
    return COSMO.H(z).to_value(u.km / u.s / u.kpc)


def m200_from_sigma(sigma_kms: ArrayLike, z: ArrayLike) -> np.ndarray:
    """He et al. 2020 eq. 13 (Mo et al. 1998): ``M200 = sigma^3 / (10 G H(z))``, Msun."""
    return np.asarray(sigma_kms) ** 3 / (10 * G_KPC_KMS2_MSUN * hubble_kms_per_kpc(z))


def sigma_from_m200(m200_msun: ArrayLike, z: ArrayLike) -> np.ndarray:
    return np.cbrt(np.asarray(m200_msun) * 10 * G_KPC_KMS2_MSUN * hubble_kms_per_kpc(z))


def r200_kpc(m200_msun: ArrayLike, z: ArrayLike) -> np.ndarray:
    """``R200 = sigma / (10 H(z))`` (the same relation), physical kpc."""
    return sigma_from_m200(m200_msun, z) / (10 * hubble_kms_per_kpc(z))


def kpc_per_arcsec(z: ArrayLike) -> np.ndarray:
    """Physical kpc per arcsec at redshift z (angular diameter distance)."""
    return comoving_distance_kpc(z) / (1 + np.asarray(z, float)) / RAD_TO_ARCSEC


def subhalo_count(m_lo: ArrayLike, m_hi: ArrayLike, r200_kpc_: ArrayLike) -> np.ndarray:
    """Expected number of subhaloes with mass in [m_lo, m_hi] (Msun) projected
    within R200, from He et al. 2020 eq. 12 (Xu et al. 2009):
    ``d eta / d ln m = 0.01 (m / 3e8 h^-1 Msun)^-1 (h^-1 kpc)^-2``."""
    m_star = 3e8 / H_LITTLE  # Msun
    area_h2 = np.pi * (np.asarray(r200_kpc_) * H_LITTLE) ** 2  # (h^-1 kpc)^2
    return 0.01 * m_star * (1 / np.asarray(m_lo) - 1 / np.asarray(m_hi)) * area_h2


def halo_mass_function(m200_msun: ArrayLike, z: float) -> np.ndarray:
    """``dn/dln M`` up to a constant, at redshift z.

    He et al. use Reed et al. (2007). This keeps its Sheth-Tormen form
    (Reed et al. is a refinement of it, within ~20% at these masses) with
    a power-law sigma(M) = sigma_8 D(z) (M / M_8)^-0.27, normalised at
    M_8 = 1.8e14 h^-1 Msun with sigma_8 = 0.8 -- a simplification that keeps
    the exponential suppression of massive haloes that shapes the theta_E
    distribution (He et al. Fig. 3).
    """
    m = np.asarray(m200_msun) * H_LITTLE  # h^-1 Msun
    slope = 0.27
    sigma_m = 0.8 * growth_factor(z) * (m / 1.8e14) ** (-slope)
    nu = 1.686 / sigma_m
    a, p, amp = 0.707, 0.3, 0.3222
    f = amp * np.sqrt(2 * a / np.pi) * (1 + (a * nu**2) ** (-p)) * nu * np.exp(-a * nu**2 / 2)
    return f * slope / m


def growth_factor(z: ArrayLike) -> np.ndarray:
    """Linear growth D(z)/D(0), Carroll, Press & Turner (1992) approximation."""
    om = COSMO.Om(z)
    ol = 1 - om

    def g(om_, ol_):
        return 2.5 * om_ / (om_ ** (4 / 7) - ol_ + (1 + om_ / 2) * (1 + ol_ / 70))

    return g(om, ol) / (1 + np.asarray(z)) / g(COSMO.Om0, 1 - COSMO.Om0)


def lens_apparent_mag_r(sigma_kms: ArrayLike, z: ArrayLike) -> np.ndarray:
    """The r magnitude of an elliptical from Faber-Jackson, distance modulus and K(z)."""
    z = np.asarray(z, float)
    abs_mag = M_R_AT_200 - 10 * np.log10(np.asarray(sigma_kms) / 200.0)
    return abs_mag + COSMO.distmod(z).value + K_CORRECTION_PER_Z * z
