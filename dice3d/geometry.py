"""Rotations and the cube's face frames (numpy only). Quaternions are (x, y, z, w), z is up.

Faces are numbered in the order +x, -x, +y, -y, +z, -z of the cube's
own frame. A digit is drawn on face k with its upright direction `FACE_UP[k]`
and its rightward direction `FACE_RIGHT[k]` (as seen from outside the cube).
"""

import numpy as np

FACE_NORMALS = np.array([[1, 0, 0], [-1, 0, 0], [0, 1, 0], [0, -1, 0], [0, 0, 1], [0, 0, -1]], dtype=np.float64)
FACE_UP = np.array([[0, 0, 1], [0, 0, 1], [0, 0, 1], [0, 0, 1], [0, 1, 0], [0, 1, 0]], dtype=np.float64)
FACE_RIGHT = np.cross(FACE_UP, FACE_NORMALS)


def quat_from_axis_angle(axis, angle: float) -> np.ndarray:
    """Return the unit quaternion float64 [4] (x, y, z, w) of a rotation by `angle` radians about `axis`."""
    axis = np.asarray(axis, dtype=np.float64)
    axis = axis / np.linalg.norm(axis)
    return np.append(axis * np.sin(angle / 2), np.cos(angle / 2))


def quat_multiply(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Return the quaternion float64 [4] of rotation `b` followed by rotation `a` (Hamilton product a*b)."""
    ax, ay, az, aw = a
    bx, by, bz, bw = b
    return np.array([aw * bx + ax * bw + ay * bz - az * by,
                     aw * by - ax * bz + ay * bw + az * bx,
                     aw * bz + ax * by - ay * bx + az * bw,
                     aw * bw - ax * bx - ay * by - az * bz])


def quat_to_matrix(q) -> np.ndarray:
    """Return the float64 [3, 3] rotation matrix of the unit quaternion `q` (x, y, z, w)."""
    x, y, z, w = np.asarray(q, dtype=np.float64)
    return np.array([[1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
                     [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
                     [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)]])


# The rotation that turns face k of the cube to point up (+z), for k in the face order.
_UP_FACE_TILT = [quat_from_axis_angle([0, 1, 0], -np.pi / 2), quat_from_axis_angle([0, 1, 0], np.pi / 2),
                 quat_from_axis_angle([1, 0, 0], np.pi / 2), quat_from_axis_angle([1, 0, 0], -np.pi / 2),
                 np.array([0.0, 0.0, 0.0, 1.0]), quat_from_axis_angle([1, 0, 0], np.pi)]


def cube_orientation(up_face: int, yaw: float) -> np.ndarray:
    """Return the quaternion float64 [4] that puts face `up_face` on top, then turns the cube by `yaw` about +z."""
    return quat_multiply(quat_from_axis_angle([0, 0, 1], yaw), _UP_FACE_TILT[up_face])


def frame_quaternion(right, up) -> np.ndarray:
    """Return the quaternion float64 [4] turning +x, +y, +z onto `right`, `up`, right x up (orthonormal inputs).

    Applied to a plate in the xy plane (normal +z, texture upright along +y) it
    shows the texture upright along `up`, facing right x up.
    """
    right, up = np.asarray(right, dtype=np.float64), np.asarray(up, dtype=np.float64)
    return matrix_to_quat(np.stack([right, up, np.cross(right, up)], axis=1))


def face_quaternion(face: int) -> np.ndarray:
    """Return the quaternion float64 [4] taking a plate in the xy plane (normal +z, texture up +y) onto `face`."""
    return frame_quaternion(FACE_RIGHT[face], FACE_UP[face])


def matrix_to_quat(m: np.ndarray) -> np.ndarray:
    """Return the unit quaternion float64 [4] (x, y, z, w) of the rotation matrix `m` [3, 3]."""
    t = np.trace(m)
    if t > 0:
        s = 2 * np.sqrt(1 + t)
        q = [(m[2, 1] - m[1, 2]) / s, (m[0, 2] - m[2, 0]) / s, (m[1, 0] - m[0, 1]) / s, s / 4]
    else:
        i = int(np.argmax(np.diag(m)))
        j, k = (i + 1) % 3, (i + 2) % 3
        s = 2 * np.sqrt(1 + m[i, i] - m[j, j] - m[k, k])
        q = [0.0, 0.0, 0.0, (m[k, j] - m[j, k]) / s]
        q[i] = s / 4
        q[j] = (m[j, i] + m[i, j]) / s
        q[k] = (m[k, i] + m[i, k]) / s
    q = np.asarray(q)
    return q / np.linalg.norm(q)


def look_direction(yaw, pitch) -> np.ndarray:
    """Return float64 [..., 3] unit vectors a camera with `yaw`, `pitch` (radians) looks along (docs/dice.md, Geometry)."""
    yaw, pitch = np.asarray(yaw, dtype=np.float64), np.asarray(pitch, dtype=np.float64)
    return np.stack([np.cos(pitch) * np.cos(yaw), np.cos(pitch) * np.sin(yaw), np.sin(pitch)], axis=-1)
